"""Byte transports for qkdlink channels: TCP, in-memory pairs (tests) and MQTT through a broker."""

from qkdlink.transport._base import Transport
from qkdlink.transport._memory import MemoryTransport, memory_transport_pair
from qkdlink.transport._mqtt import MqttTransport, MqttTransportConfig
from qkdlink.transport._tcp import TcpListener, TcpTransport, tcp_connect, tcp_listen

__all__ = [
    "MemoryTransport",
    "MqttTransport",
    "MqttTransportConfig",
    "TcpListener",
    "TcpTransport",
    "Transport",
    "memory_transport_pair",
    "tcp_connect",
    "tcp_listen",
]
