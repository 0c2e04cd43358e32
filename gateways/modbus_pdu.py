"""Modbus TCP framing, sans I/O: bytes in, requests or responses out (used by the simulator).

MBAP header: transaction id (2), protocol id 0 (2), length (2) = unit id + PDU, unit id (1).
Read holding (3) / input (4) registers: PDU = fc, start address (2), count (2).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAX_READ = 125


@dataclass(frozen=True, slots=True)
class ReadRequest:
    transaction_id: int
    unit_id: int
    function: int
    address: int
    count: int


def parse_requests(buffer: bytearray) -> list[ReadRequest | tuple[int, int, int]]:
    """Take whole frames off `buffer`; return read requests or (tid, unit, fc) of others."""
    out: list[ReadRequest | tuple[int, int, int]] = []
    while len(buffer) >= 8:
        tid, _pid, length, unit = struct.unpack(">HHHB", buffer[:7])
        if len(buffer) < 6 + length:
            break
        pdu = bytes(buffer[7 : 6 + length])
        del buffer[: 6 + length]
        function = pdu[0]
        if function in (3, 4) and len(pdu) == 5:
            address, count = struct.unpack(">HH", pdu[1:5])
            out.append(ReadRequest(tid, unit, function, address, count))
        else:
            out.append((tid, unit, function))
    return out


def read_response(request: ReadRequest, words: list[int]) -> bytes:
    body = struct.pack(f">BB{len(words)}H", request.function, 2 * len(words), *words)
    return struct.pack(">HHHB", request.transaction_id, 0, len(body) + 1, request.unit_id) + body


def exception_response(transaction_id: int, unit_id: int, function: int, code: int) -> bytes:
    body = struct.pack(">BB", function | 0x80, code)
    return struct.pack(">HHHB", transaction_id, 0, len(body) + 1, unit_id) + body
