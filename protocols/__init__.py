"""Sans-IO protocol cores and wire formats of qkdlink.

No sockets, no event loop, no clock reads: bytes, arrays and `now` go in, events and bytes come
out. Subpackages: `etsi014` (key delivery data model), `noise` (Noise Protocol Framework),
`channel` (qkdlink handshake and record layer), `bb84` (QKD classical post-processing).
"""
