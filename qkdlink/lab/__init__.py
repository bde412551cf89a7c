"""Test labs: PKI, configs and KMEs for a set of nodes linked by (simulated) QKD links."""

from qkdlink.lab._layout import DEFAULT_NODES, LabNode, LabSpec, create_lab, load_lab
from qkdlink.lab._run import Lab, run_lab

__all__ = ["DEFAULT_NODES", "Lab", "LabNode", "LabSpec", "create_lab", "load_lab", "run_lab"]
