"""Finds where a request body that does not decode goes wrong, to name the field in the refusal.

Walks the protobuf wire format along the request's descriptor: a string field that is not valid
UTF-8 is named by its path (``transfers[1].payee.holder_name``); a broken tag, length or varint is
named by the field it sits in, or ``request`` when it is in no field at all.
"""

from __future__ import annotations

from google.protobuf.descriptor import Descriptor, FieldDescriptor

WHOLE = "request"
MAX_GROUP_DEPTH = 100
_VARINT, _FIXED64, _LENGTH, _START, _END, _FIXED32 = range(6)


class _Broken(Exception):
    def __init__(self, field: str, problem: str) -> None:
        super().__init__(problem)
        self.field, self.problem = field, problem


def broken_field(descriptor: Descriptor, raw: bytes) -> tuple[str, str]:
    """The path of the field where ``raw`` fails to decode as ``descriptor``, and what is wrong there;
    ``(WHOLE, ...)`` when the walk finds no fault (the decoder refused it for another reason)."""
    try:
        _message(descriptor, memoryview(raw), "")
    except _Broken as exc:
        return exc.field or WHOLE, exc.problem
    return WHOLE, "is not a valid encoding of the request"


def _varint(raw: memoryview, pos: int, where: str) -> tuple[int, int]:
    value = 0
    for shift in range(0, 70, 7):
        if pos >= len(raw):
            raise _Broken(where, "ends inside a number")
        byte = raw[pos]
        pos += 1
        value |= (byte & 0x7F) << shift
        if not byte & 0x80:
            return value, pos
    raise _Broken(where, "holds a number longer than 10 bytes")


def _message(descriptor: Descriptor, raw: memoryview, prefix: str) -> None:
    seen: dict[int, int] = {}
    pos, where = 0, prefix.rstrip(".")
    while pos < len(raw):
        tag, pos = _varint(raw, pos, where)
        number, wire = tag >> 3, tag & 7
        if not 0 < number < 2**29 or wire > _FIXED32:
            raise _Broken(where, f"holds a field tag that is not valid ({tag})")
        field = descriptor.fields_by_number.get(number)
        path = where
        if field is not None:
            path = prefix + field.name
            if field.is_repeated:
                path += f"[{seen.get(number, 0)}]"
                seen[number] = seen.get(number, 0) + 1
        pos = _value(raw, pos, wire, number, field, path)


def _value(raw: memoryview, pos: int, wire: int, number: int, field: FieldDescriptor | None, path: str) -> int:
    if wire == _VARINT:
        return _varint(raw, pos, path)[1]
    if wire in (_FIXED64, _FIXED32):
        end = pos + (8 if wire == _FIXED64 else 4)
        if end > len(raw):
            raise _Broken(path, "ends inside a fixed-size number")
        return end
    if wire == _END:
        raise _Broken(path, "ends a group that was never started")
    if wire == _START:
        return _group(raw, pos, number, path)
    length, pos = _varint(raw, pos, path)
    if pos + length > len(raw):
        raise _Broken(path, "is longer than the request")
    body = raw[pos : pos + length]
    if field is not None and field.type == FieldDescriptor.TYPE_STRING:
        try:
            str(body, "utf-8")
        except UnicodeDecodeError as exc:
            raise _Broken(path, "is not valid UTF-8") from exc
    elif field is not None and field.type == FieldDescriptor.TYPE_MESSAGE and field.message_type is not None:
        _message(field.message_type, body, path + ".")
    return pos + length


def _group(raw: memoryview, pos: int, number: int, path: str) -> int:
    """Skips an (unknown) group up to its end tag, however deep, without recursion."""
    open_groups = [number]
    while open_groups:
        if len(open_groups) > MAX_GROUP_DEPTH:
            raise _Broken(path, f"nests groups deeper than {MAX_GROUP_DEPTH}")
        tag, pos = _varint(raw, pos, path)
        inner, wire = tag >> 3, tag & 7
        if not 0 < inner < 2**29 or wire > _FIXED32:
            raise _Broken(path, f"holds a field tag that is not valid ({tag})")
        if wire == _START:
            open_groups.append(inner)
        elif wire == _END:
            if open_groups.pop() != inner:
                raise _Broken(path, "ends a group other than the one it started")
        else:
            pos = _value(raw, pos, wire, inner, None, path)
    return pos
