"""Simulated QKD hardware for test labs: the qiskit BB84 link and the key source it feeds KMEs."""
