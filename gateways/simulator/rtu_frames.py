"""Modbus RTU framing, sans I/O, for the simulator's RTU-over-TCP ports.

Request to read registers (function 3 or 4): unit (1), function (1), start address (2),
count (2), CRC-16/MODBUS (2, low byte first). Response: unit, function, byte count, data,
CRC; exception: unit, function | 0x80, code, CRC. A frame with a bad CRC is dropped (a real
slave stays silent), as is the rest of the buffer when the function is not a read.
"""

from __future__ import annotations

import struct

from gateways.modbus_pdu import ReadRequest

REQUEST_LEN = 8


def crc16(data: bytes) -> int:
    """CRC-16/MODBUS (polynomial 0xA001 reflected, initial 0xFFFF)."""
    crc = 0xFFFF
    for byte in data:
        crc ^= byte
        for _ in range(8):
            crc = (crc >> 1) ^ 0xA001 if crc & 1 else crc >> 1
    return crc


def with_crc(body: bytes) -> bytes:
    return body + struct.pack("<H", crc16(body))


def parse_requests(buffer: bytearray) -> list[ReadRequest | tuple[int, int, int]]:
    """Take whole frames off `buffer`: read requests, or (0, unit, function) of others."""
    out: list[ReadRequest | tuple[int, int, int]] = []
    while len(buffer) >= REQUEST_LEN:
        unit, function = buffer[0], buffer[1]
        if function not in (3, 4):
            out.append((0, unit, function))
            buffer.clear()  # unknown length: resynchronise on the next request
            break
        frame = bytes(buffer[:REQUEST_LEN])
        del buffer[:REQUEST_LEN]
        if crc16(frame[:-2]) != struct.unpack("<H", frame[-2:])[0]:
            continue
        address, count = struct.unpack(">HH", frame[2:6])
        out.append(ReadRequest(0, unit, function, address, count))
    return out


def read_response(request: ReadRequest, words: list[int]) -> bytes:
    body = struct.pack(f">BBB{len(words)}H", request.unit_id, request.function, 2 * len(words),
                       *words)  # fmt: skip
    return with_crc(body)


def exception_response(_transaction_id: int, unit_id: int, function: int, code: int) -> bytes:
    return with_crc(struct.pack(">BBB", unit_id, function | 0x80, code))
