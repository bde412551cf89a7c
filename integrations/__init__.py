"""Adapters that let MPC and HE engines (MPyC, TenSEAL) run over qkdlink, and the hospital demo."""
