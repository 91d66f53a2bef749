from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class RaftCommand(_message.Message):
    __slots__ = ("request_id", "body", "noop")
    REQUEST_ID_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    NOOP_FIELD_NUMBER: _ClassVar[int]
    request_id: str
    body: bytes
    noop: bool
    def __init__(self, request_id: _Optional[str] = ..., body: _Optional[bytes] = ..., noop: _Optional[bool] = ...) -> None: ...

class RaftLogEntry(_message.Message):
    __slots__ = ("command", "index", "term")
    COMMAND_FIELD_NUMBER: _ClassVar[int]
    INDEX_FIELD_NUMBER: _ClassVar[int]
    TERM_FIELD_NUMBER: _ClassVar[int]
    command: bytes
    index: int
    term: int
    def __init__(self, command: _Optional[bytes] = ..., index: _Optional[int] = ..., term: _Optional[int] = ...) -> None: ...

class RaftSnapshotHeader(_message.Message):
    __slots__ = ("format", "applied_index", "last_entry", "prev_entry", "cluster", "image_applied_index")
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    APPLIED_INDEX_FIELD_NUMBER: _ClassVar[int]
    LAST_ENTRY_FIELD_NUMBER: _ClassVar[int]
    PREV_ENTRY_FIELD_NUMBER: _ClassVar[int]
    CLUSTER_FIELD_NUMBER: _ClassVar[int]
    IMAGE_APPLIED_INDEX_FIELD_NUMBER: _ClassVar[int]
    format: int
    applied_index: int
    last_entry: RaftLogEntry
    prev_entry: RaftLogEntry
    cluster: _containers.RepeatedScalarFieldContainer[str]
    image_applied_index: int
    def __init__(self, format: _Optional[int] = ..., applied_index: _Optional[int] = ..., last_entry: _Optional[_Union[RaftLogEntry, _Mapping]] = ..., prev_entry: _Optional[_Union[RaftLogEntry, _Mapping]] = ..., cluster: _Optional[_Iterable[str]] = ..., image_applied_index: _Optional[int] = ...) -> None: ...
