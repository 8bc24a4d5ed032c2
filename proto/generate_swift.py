#!/usr/bin/env python3
"""Generates Swift message types, service names and RPC stubs from the descriptor set that protoc-c
writes for the .proto files (`protoc-c -o set.pb --include_source_info --include_imports`).

The Swift types are plain values (structs, enums); their encoding goes through the protobuf-c code that
proto/generate.sh has already put in the C target, so the runtime stays libprotobuf-c. The outputs, under
--out-root (default: the repository root), for the service's protos (--layout service):

  Sources/BillingWire/Generated/<flat>.pb.swift               the RPC envelope (billing.rpc.*)
  Sources/BillingAPI/<flat>.pb.swift                          every other message, enum and service name
  clients/swift/BillingClient/Generated/<flat>+Client.swift   typed client stubs (billing.* services)
  Sources/BillingService/Generated/<flat>+Server.swift        handler protocols (billing.* services)

and for the generator's own test protos (--layout fixtures), Tests/BillingWireTests/Generated. <flat> is
the proto path with '/' turned into '_' and '.proto' dropped, as for the C files.

Why a descriptor set, read with the `protobuf` package from PyPI (google.protobuf.descriptor_pb2):
protoc is the parser, so every valid proto3 file is understood exactly as protoc-c understands it
(oneof, optional and map included), and comments come from its SourceCodeInfo. The generator was
Python already; swift-protobuf's SwiftProtobufPluginLibrary would read the same descriptors but would
add minutes of Swift build to every regeneration and CI run, and the staleness check before a stop has
20 seconds. The one dependency is pinned in the Makefile (`deps`) and in .ci/run.

protoc-c 1.4.1 (Debian bookworm) refuses proto3 `optional`. On the wire an optional field is exactly a
oneof with one member, so `--c-descriptor-set` writes a copy of the set with the proto3_optional flag
cleared; protoc-c then generates the synthetic oneof (`_name_case` plus the field) from that copy.

What the Swift side cannot map faithfully (proto2, groups, extensions, client streaming, recursive
singular message fields) stops the generator with exit status 1 and a message naming the file and line,
rather than producing code that is subtly wrong.

The file reads top-down: model, loading the descriptor set, checks, naming rules (Swift's, and
protoc-c's for the C side), one emitter per output, then the layouts, the writer and main().
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Optional, Union

try:
    from google.protobuf import descriptor_pb2
except ImportError:  # pragma: no cover - a message instead of a traceback
    sys.exit("generate_swift.py: error: the Python package `protobuf` is missing; run `make deps` "
             "(it pip-installs the pinned version)")

# Client and server stubs are generated only for our own services; health keeps its hand-written glue.
STUB_PACKAGE_PREFIX = "billing."

# protobuf scalar types -> (Swift type, default literal). The C side uses the matching fixed-width C type
# (protobuf_c_boolean for bool, char * for string, ProtobufCBinaryData for bytes).
SWIFT_SCALARS = {
    "int32": "Int32", "sint32": "Int32", "sfixed32": "Int32",
    "int64": "Int64", "sint64": "Int64", "sfixed64": "Int64",
    "uint32": "UInt32", "fixed32": "UInt32",
    "uint64": "UInt64", "fixed64": "UInt64",
    "float": "Float", "double": "Double",
    "bool": "Bool", "string": "String", "bytes": "[UInt8]",
}
SCALAR_TYPES = set(SWIFT_SCALARS)
SCALAR_DEFAULTS = {name: "0" for name in SCALAR_TYPES} | {"bool": "false", "string": '""', "bytes": "[]"}

# FieldDescriptorProto.Type numbers -> the names above; 10 (group) is refused.
FIELD_TYPE_NAMES = {
    1: "double", 2: "float", 3: "int64", 4: "uint64", 5: "int32", 6: "fixed64", 7: "fixed32", 8: "bool",
    9: "string", 12: "bytes", 13: "uint32", 15: "sfixed32", 16: "sfixed64", 17: "sint32", 18: "sint64",
}
TYPE_MESSAGE, TYPE_ENUM, TYPE_GROUP = 11, 14, 10
LABEL_REPEATED = 3


class GeneratorError(Exception):
    """A problem with the input; main() prints it and exits with status 1."""


# --------------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------------


@dataclass
class Field:
    name: str
    number: int
    type_name: str  # a scalar name, or the fully qualified message or enum name (no leading '.')
    repeated: bool
    doc: list[str]
    line: int
    target: Union["Message", "Enum", None] = None  # set by resolve() for message and enum types
    # proto3 `optional`: a Swift optional; protobuf-c marks presence in the case field of the synthetic
    # oneof named here ("_retries" -> `_retries_case`).
    presence_oneof: Optional[str] = None
    oneof: Optional["Oneof"] = None  # a member of a real oneof

    @property
    def is_message(self) -> bool:
        return isinstance(self.target, Message)

    @property
    def is_enum(self) -> bool:
        return isinstance(self.target, Enum)

    @property
    def is_map(self) -> bool:
        return self.repeated and self.is_message and self.target.is_map_entry  # type: ignore[union-attr]


@dataclass(eq=False)  # compared by identity: its fields point back at it
class Oneof:
    """A real oneof (not proto3 optional's synthetic one): a Swift enum with one case per member."""
    name: str
    doc: list[str]
    fields: list[Field]


@dataclass
class EnumValue:
    name: str
    number: int
    doc: list[str]


@dataclass
class Enum:
    name: str
    full_name: str  # "grpc.health.v1.HealthCheckResponse.ServingStatus"
    path: list[str]  # names from the package down: ["HealthCheckResponse", "ServingStatus"]
    doc: list[str]
    values: list[EnumValue]
    file: "ProtoFile"


@dataclass
class Message:
    name: str
    full_name: str
    path: list[str]
    doc: list[str]
    fields: list[Field]
    messages: list["Message"]
    enums: list[Enum]
    file: "ProtoFile"
    # Declaration order of nested messages and enums, so the Swift output follows the .proto file.
    nested_order: list[Union["Message", Enum]] = field(default_factory=list)
    oneofs: list[Oneof] = field(default_factory=list)
    # protoc's synthetic `XEntry { key = 1; value = 2; }` behind a map field: no Swift type of its own.
    is_map_entry: bool = False

    def members(self) -> list[Union[Field, Oneof]]:
        """Swift properties in declaration order: a oneof stands where its first member was declared."""
        found: list[Union[Field, Oneof]] = []
        for fld in self.fields:
            if fld.oneof is None:
                found.append(fld)
            elif fld.oneof not in found:
                found.append(fld.oneof)
        return found


@dataclass
class Rpc:
    name: str
    request_name: str
    response_name: str
    server_streaming: bool
    doc: list[str]
    line: int
    request: Optional[Message] = None
    response: Optional[Message] = None


@dataclass
class Service:
    name: str
    full_name: str
    doc: list[str]
    rpcs: list[Rpc]


@dataclass
class ProtoFile:
    path: str  # as protoc names it, relative to the proto root: "billing/v1/billing.proto"
    package: str
    imports: list[str]
    messages: list[Message]
    enums: list[Enum]
    services: list[Service]
    # Top-level declarations in file order.
    order: list[Union[Message, Enum, Service]] = field(default_factory=list)

    @property
    def flat_name(self) -> str:
        """billing/v1/billing.proto -> billing_v1_billing, as proto/generate.sh names the C files."""
        return self.path[: -len(".proto")].replace("/", "_")


# --------------------------------------------------------------------------------------------------
# Loading the descriptor set
# --------------------------------------------------------------------------------------------------


def read_descriptor_set(path: str) -> descriptor_pb2.FileDescriptorSet:
    descriptors = descriptor_pb2.FileDescriptorSet()
    with open(path, "rb") as handle:
        descriptors.ParseFromString(handle.read())
    return descriptors


def write_c_descriptor_set(source: str, destination: str) -> None:
    """The set protoc-c generates C from: proto3 `optional` turned into the one-member oneof it is on the
    wire, since protoc-c 1.4.1 refuses the flag. Source info stays: protoc-c copies comments into the C
    headers."""
    descriptors = read_descriptor_set(source)

    def clear(message: descriptor_pb2.DescriptorProto) -> None:
        for fld in message.field:
            fld.ClearField("proto3_optional")
        for nested in message.nested_type:
            clear(nested)

    for proto in descriptors.file:
        for message in proto.message_type:
            clear(message)
    with open(destination, "wb") as handle:
        handle.write(descriptors.SerializeToString())


class FileLoader:
    """Turns one FileDescriptorProto into the model, with doc comments and declaration lines taken from
    its SourceCodeInfo (a location's path is the chain of field numbers and indexes down to the element:
    message_type = 4, enum_type = 5, service = 6, field = 2, nested_type = 3, oneof_decl = 8, ...)."""

    def __init__(self, proto: descriptor_pb2.FileDescriptorProto):
        self.proto = proto
        self.locations = {tuple(location.path): location for location in proto.source_code_info.location}

    def doc(self, path: tuple[int, ...]) -> list[str]:
        """The comment block directly above a declaration (protoc's leading comments), one line per
        entry, with the single space after `//` removed."""
        location = self.locations.get(path)
        if location is None or not location.leading_comments:
            return []
        lines = location.leading_comments.rstrip("\n").split("\n")
        return [line[1:] if line.startswith(" ") else line for line in lines]

    def line(self, path: tuple[int, ...]) -> int:
        location = self.locations.get(path)
        return location.span[0] + 1 if location is not None else 0

    def fail(self, path: tuple[int, ...], message: str) -> GeneratorError:
        return GeneratorError(f"{self.proto.name}:{self.line(path)}: {message}")

    def load(self) -> ProtoFile:
        proto = self.proto
        if proto.syntax != "proto3":
            raise GeneratorError(f"{proto.name}: only proto3 is supported, found syntax "
                                 f"{proto.syntax or 'proto2'!r} (proto2 defaults and required fields have "
                                 "no Swift mapping here)")
        if not proto.package:
            raise GeneratorError(f"{proto.name}: missing a package statement; the package names the Swift namespace")
        if proto.extension:
            raise self.fail((7, 0), "extensions are outside what the Swift mapping supports")
        loaded = ProtoFile(proto.name, proto.package, list(proto.dependency), [], [], [])
        declarations: list[tuple[int, Union[Message, Enum, Service]]] = []
        for index, message in enumerate(proto.message_type):
            declared = self.message(message, (4, index), [], loaded)
            loaded.messages.append(declared)
            declarations.append((self.line((4, index)), declared))
        for index, enum in enumerate(proto.enum_type):
            declared_enum = self.enum(enum, (5, index), [], loaded)
            loaded.enums.append(declared_enum)
            declarations.append((self.line((5, index)), declared_enum))
        for index, service in enumerate(proto.service):
            declared_service = self.service(service, (6, index))
            loaded.services.append(declared_service)
            declarations.append((self.line((6, index)), declared_service))
        loaded.order = [declared for _, declared in sorted(declarations, key=lambda pair: pair[0])]
        return loaded

    def full_name(self, path: list[str]) -> str:
        return ".".join([self.proto.package, *path])

    def message(self, descriptor: descriptor_pb2.DescriptorProto, at: tuple[int, ...], outer: list[str],
                proto: ProtoFile) -> Message:
        path = [*outer, descriptor.name]
        message = Message(descriptor.name, self.full_name(path), path, self.doc(at), [], [], [], proto,
                          is_map_entry=descriptor.options.map_entry)
        if descriptor.extension or descriptor.extension_range:
            raise self.fail(at, f"message {message.full_name}: extensions are outside what the Swift mapping supports")
        nested: list[tuple[int, Union[Message, Enum]]] = []
        for index, inner in enumerate(descriptor.nested_type):
            declared = self.message(inner, (*at, 3, index), path, proto)
            message.messages.append(declared)
            nested.append((self.line((*at, 3, index)), declared))
        for index, inner_enum in enumerate(descriptor.enum_type):
            declared_enum = self.enum(inner_enum, (*at, 4, index), path, proto)
            message.enums.append(declared_enum)
            nested.append((self.line((*at, 4, index)), declared_enum))
        # Map entries have no source location of their own: they sort first, and are never emitted.
        message.nested_order = [declared for _, declared in sorted(nested, key=lambda pair: pair[0])]

        synthetic = {fld.oneof_index for fld in descriptor.field
                     if fld.proto3_optional and fld.HasField("oneof_index")}
        oneofs: dict[int, Oneof] = {}
        for index, oneof in enumerate(descriptor.oneof_decl):
            if index not in synthetic:
                oneofs[index] = Oneof(oneof.name, self.doc((*at, 8, index)), [])
        message.oneofs = list(oneofs.values())
        for index, descriptor_field in enumerate(descriptor.field):
            message.fields.append(self.field(descriptor_field, (*at, 2, index), descriptor, oneofs))
        return message

    def field(self, descriptor: descriptor_pb2.FieldDescriptorProto, at: tuple[int, ...],
              message: descriptor_pb2.DescriptorProto, oneofs: dict[int, Oneof]) -> Field:
        if descriptor.type == TYPE_GROUP:
            raise self.fail(at, f"field {descriptor.name}: groups are outside what the Swift mapping supports")
        if descriptor.type in (TYPE_MESSAGE, TYPE_ENUM):
            type_name = descriptor.type_name.lstrip(".")
        else:
            type_name = FIELD_TYPE_NAMES[descriptor.type]
        fld = Field(descriptor.name, descriptor.number, type_name, descriptor.label == LABEL_REPEATED,
                    self.doc(at), self.line(at))
        if descriptor.proto3_optional:
            fld.presence_oneof = message.oneof_decl[descriptor.oneof_index].name
        elif descriptor.HasField("oneof_index"):
            fld.oneof = oneofs[descriptor.oneof_index]
            fld.oneof.fields.append(fld)
        return fld

    def enum(self, descriptor: descriptor_pb2.EnumDescriptorProto, at: tuple[int, ...], outer: list[str],
             proto: ProtoFile) -> Enum:
        path = [*outer, descriptor.name]
        values = [EnumValue(value.name, value.number, self.doc((*at, 2, index)))
                  for index, value in enumerate(descriptor.value)]
        return Enum(descriptor.name, self.full_name(path), path, self.doc(at), values, proto)

    def service(self, descriptor: descriptor_pb2.ServiceDescriptorProto, at: tuple[int, ...]) -> Service:
        service = Service(descriptor.name, self.full_name([descriptor.name]), self.doc(at), [])
        for index, method in enumerate(descriptor.method):
            where = (*at, 2, index)
            if method.client_streaming:
                raise self.fail(where, f"rpc {method.name}: client-streaming rpcs are outside what the RPC layer supports")
            service.rpcs.append(Rpc(method.name, method.input_type.lstrip("."), method.output_type.lstrip("."),
                                    method.server_streaming, self.doc(where), self.line(where)))
        return service


def load(descriptor_set: str) -> list[ProtoFile]:
    """Every file of the set (protoc's --include_imports puts dependencies in too), sorted by path."""
    files = [FileLoader(proto).load() for proto in read_descriptor_set(descriptor_set).file]
    files.sort(key=lambda proto: proto.path)
    return files


# --------------------------------------------------------------------------------------------------
# Resolution and checks
# --------------------------------------------------------------------------------------------------


def all_messages(container: Union[ProtoFile, Message]) -> list[Message]:
    """Every message in a file or message, nested ones included, parents first (map entries too)."""
    found = []
    for message in container.messages:
        found.append(message)
        found.extend(all_messages(message))
    return found


def swift_messages(container: Union[ProtoFile, Message]) -> list[Message]:
    """The messages that become Swift structs: all but map entries."""
    return [message for message in all_messages(container) if not message.is_map_entry]


def all_enums(proto: ProtoFile) -> list[Enum]:
    return proto.enums + [enum for message in all_messages(proto) for enum in message.enums]


def resolve(files: list[ProtoFile]) -> None:
    """Binds every field and rpc type to its declaration. protoc has checked every name already and
    written it fully qualified; this only finds the objects."""
    types: dict[str, Union[Message, Enum]] = {}
    for proto in files:
        for declared in [*all_messages(proto), *all_enums(proto)]:
            types[declared.full_name] = declared
    for proto in files:
        for message in all_messages(proto):
            for fld in message.fields:
                if fld.type_name not in SCALAR_TYPES:
                    fld.target = types[fld.type_name]
        for service in proto.services:
            for rpc in service.rpcs:
                rpc.request = types[rpc.request_name]  # type: ignore[assignment]
                rpc.response = types[rpc.response_name]  # type: ignore[assignment]


def check(files: list[ProtoFile]) -> None:
    """Rejects what would compile into wrong or clashing Swift."""
    for proto in files:
        scopes: list[tuple[str, list[str]]] = [(proto.package, [d.name for d in proto.order])]
        for message in swift_messages(proto):
            # A oneof's Swift enum is a nested type too: it must not clash with the nested declarations.
            scopes.append((message.full_name, [m.name for m in message.nested_order if not getattr(m, "is_map_entry", False)]
                           + [oneof_type_name(o) for o in message.oneofs]))
            where = f"{proto.path}: message {message.full_name}"
            numbers = [f.number for f in message.fields]
            for fld in message.fields:
                if not (1 <= fld.number <= 536_870_911) or 19_000 <= fld.number <= 19_999:
                    raise GeneratorError(f"{proto.path}:{fld.line}: field number {fld.number} is not allowed")
                if numbers.count(fld.number) > 1:
                    raise GeneratorError(f"{where}: field number {fld.number} is used twice")
                swift = swift_field_name(fld.name)
                if swift in RESERVED_MEMBER_NAMES:
                    raise GeneratorError(f"{proto.path}:{fld.line}: the field name {fld.name!r} becomes "
                                         f"{swift!r}, which the generated struct already uses")
            swift_names = [member_swift_name(member) for member in message.members()]
            for name in swift_names:
                if swift_names.count(name) > 1:
                    raise GeneratorError(f"{where}: two fields become the Swift property {name!r}")
            for oneof in message.oneofs:
                if swift_field_name(oneof.name) in RESERVED_MEMBER_NAMES:
                    raise GeneratorError(f"{where}: the oneof {oneof.name!r} becomes a Swift property that the "
                                         "generated struct already uses")
                cases = [swift_field_name(f.name) for f in oneof.fields]
                if any(case in RESERVED_CASE_NAMES for case in cases):
                    raise GeneratorError(f"{where}: a member of oneof {oneof.name!r} becomes a Swift case name "
                                         "that the enum already uses")
        for enum in all_enums(proto):
            where = f"{proto.path}: enum {enum.full_name}"
            if not enum.values or enum.values[0].number != 0:
                raise GeneratorError(f"{where}: the first value must be 0 (proto3)")
            numbers = [v.number for v in enum.values]
            if len(set(numbers)) != len(numbers):
                raise GeneratorError(f"{where}: two values share a number (allow_alias is outside what the Swift mapping supports)")
            if any(not -2**31 <= n < 2**31 for n in numbers):
                raise GeneratorError(f"{where}: a value does not fit in int32")
            cases = [swift_case_name(enum, v.name) for v in enum.values]
            for case in cases:
                if cases.count(case) > 1:
                    raise GeneratorError(f"{where}: two values become the Swift case {case!r}")
                if case in RESERVED_CASE_NAMES:
                    raise GeneratorError(f"{where}: a value becomes the Swift case {case!r}, which the enum already uses")
        for service in proto.services:
            rpc_names = [r.name for r in service.rpcs]
            if len(set(rpc_names)) != len(rpc_names):
                raise GeneratorError(f"{proto.path}: service {service.full_name} declares an rpc twice")
            methods = [swift_method_name(r.name) for r in service.rpcs]
            if len(set(methods)) != len(methods):
                raise GeneratorError(f"{proto.path}: two rpcs of {service.full_name} become the same Swift method")
        for scope, names in scopes:
            for name in names:
                if names.count(name) > 1:
                    raise GeneratorError(f"{proto.path}: {scope} declares {name!r} twice")
                if name in RESERVED_TYPE_NAMES:
                    raise GeneratorError(f"{proto.path}: {scope}.{name} would hide the Swift type {name!r} "
                                         "that the generated code uses; rename it")

    # A struct cannot contain itself: a cycle through singular message fields needs indirect storage.
    def visit(message: Message, stack: list[Message]) -> None:
        if message in stack:
            cycle = " -> ".join(m.full_name for m in stack[stack.index(message):] + [message])
            raise GeneratorError(f"{message.file.path}: recursive message fields ({cycle}): a Swift struct "
                                 "cannot contain itself; use a repeated field")
        for fld in message.fields:
            if fld.is_message and not fld.repeated:
                visit(fld.target, [*stack, message])  # type: ignore[arg-type]

    for proto in files:
        for message in all_messages(proto):
            visit(message, [])

    clients: dict[str, str] = {}
    for proto in stub_files(files):
        for service in proto.services:
            if service.name in clients:
                raise GeneratorError(f"{proto.path}: service {service.name} is also declared in "
                                     f"{clients[service.name]}; the stubs would clash")
            clients[service.name] = proto.path


def stub_files(files: list[ProtoFile]) -> list[ProtoFile]:
    return [p for p in files if p.services and (p.package + ".").startswith(STUB_PACKAGE_PREFIX)]



# --------------------------------------------------------------------------------------------------
# Naming: Swift names, and the names protoc-c gives the C side (mirroring protoc-c's c_helpers.cc)
# --------------------------------------------------------------------------------------------------

SWIFT_KEYWORDS = {
    "associatedtype", "class", "deinit", "enum", "extension", "fileprivate", "func", "import", "init", "inout",
    "internal", "let", "open", "operator", "private", "precedencegroup", "protocol", "public", "rethrows",
    "static", "struct", "subscript", "typealias", "var", "break", "case", "catch", "continue", "default",
    "defer", "do", "else", "fallthrough", "for", "guard", "if", "in", "repeat", "return", "throw", "switch",
    "where", "while", "Any", "as", "await", "false", "is", "nil", "self", "Self", "super", "throws", "true",
    "try", "Type", "Protocol", "some", "any", "borrowing", "consuming",
}
# Members every generated struct has already; `self` and `init` as parameter names would shadow them.
RESERVED_MEMBER_NAMES = {"wireBytes", "cStruct", "hashValue", "hash", "self", "init"}
RESERVED_CASE_NAMES = {"description", "rawValue", "allCases", "hashValue", "cValue"}
# Types the generated code names without qualification; a proto type of that name would shadow them.
RESERVED_TYPE_NAMES = {
    "String", "Bool", "Int", "Int32", "Int64", "UInt32", "UInt64", "UInt8", "Array", "Optional", "Never",
    "Hashable", "Sendable", "CaseIterable", "CustomStringConvertible", "WireMessage", "RPCError",
    "ProtobufCArena", "ProtobufCField", "UnsafeMutablePointer", "UnsafeBufferPointer", "Self", "Type",
    "Protocol", "Method", "CallOptions", "RPCClient", "ServerStream", "CallContext", "MethodHandler",
    "TypedStreamWriter", "RPCService",
}
C_KEYWORDS = {
    "and", "and_eq", "asm", "auto", "bitand", "bitor", "bool", "break", "case", "catch", "char", "class",
    "compl", "const", "const_cast", "continue", "default", "delete", "do", "double", "dynamic_cast", "else",
    "enum", "explicit", "extern", "false", "float", "for", "friend", "goto", "if", "inline", "int", "long",
    "mutable", "namespace", "new", "not", "not_eq", "operator", "or", "or_eq", "private", "protected",
    "public", "register", "reinterpret_cast", "return", "short", "signed", "sizeof", "static",
    "static_cast", "struct", "switch", "template", "this", "throw", "true", "try", "typedef", "typeid",
    "typename", "union", "unsigned", "using", "virtual", "void", "volatile", "wchar_t", "while", "xor",
    "xor_eq",
}


def escape(identifier: str) -> str:
    """Backticks for Swift keywords, so a proto name like `default` still compiles."""
    return f"`{identifier}`" if identifier in SWIFT_KEYWORDS else identifier


def label(identifier: str) -> str:
    """An argument label at a call site: keywords need no backticks there (Swift warns about them),
    except these three."""
    return f"`{identifier}`" if identifier in ("inout", "var", "let") else identifier


def upper_first(text: str) -> str:
    return text[:1].upper() + text[1:]


def swift_namespace(package: str) -> str:
    """billing.v1 -> BillingV1; grpc.health.v1 -> GrpcHealthV1."""
    return "".join(upper_first(part) for component in package.split(".") for part in component.split("_"))


# Words written all upper-case after the first word, as swift-protobuf does and as the Swift API design
# guidelines ask for acronyms: account_id -> accountID, but created_at_unix_ms -> createdAtUnixMs.
UPPERCASE_WORDS = {"id", "url", "http", "https"}


def lower_camel(words: list[str]) -> str:
    """["account", "id"] -> accountID; ["not", "serving"] -> notServing; ["last4"] -> last4."""
    first, rest = words[0], words[1:]
    return first[:1].lower() + first[1:] + "".join(
        word.upper() if word.lower() in UPPERCASE_WORDS else upper_first(word) for word in rest)


def swift_field_name(proto_name: str) -> str:
    """amount_minor -> amountMinor; last4 -> last4; created_at_unix_ms -> createdAtUnixMs; account_id -> accountID."""
    return lower_camel([part for part in proto_name.split("_") if part])


def swift_method_name(rpc_name: str) -> str:
    """CreateAccount -> createAccount; GetURL -> getURL; URLList -> urlList."""
    run = len(rpc_name) - len(rpc_name.lstrip("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    if run == 0:
        return rpc_name
    if run == len(rpc_name) or run == 1:
        return rpc_name[:run].lower() + rpc_name[run:]
    return rpc_name[: run - 1].lower() + rpc_name[run - 1:]


def screaming_snake(camel: str) -> str:
    """InvoiceStatus -> INVOICE_STATUS, the prefix proto style puts on the enum's values."""
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", camel)
    spaced = re.sub(r"([A-Z]+)([A-Z][a-z])", r"\1_\2", spaced)
    return spaced.upper()


def swift_case_name(enum: Enum, value_name: str) -> str:
    """INVOICE_STATUS_OPEN in InvoiceStatus -> open; NOT_SERVING in ServingStatus -> notServing."""
    prefix = screaming_snake(enum.name) + "_"
    rest = value_name
    if value_name.startswith(prefix) and len(value_name) > len(prefix) and not value_name[len(prefix)].isdigit():
        rest = value_name[len(prefix):]
    return lower_camel([part.lower() for part in rest.split("_") if part])


def swift_type(declared: Union[Message, Enum]) -> str:
    """Always fully qualified (BillingV1.Invoice, GrpcHealthV1.HealthCheckResponse.ServingStatus), so that
    a nested type can never shadow the one a field means."""
    return ".".join([swift_namespace(declared.file.package), *declared.path])


def c_camel(piece: str) -> str:
    """protoc-c's ToCamel: drop underscores, upper-case the letter after each."""
    return "".join(upper_first(part) for part in piece.split("_") if part)


def c_lower(piece: str) -> str:
    """protoc-c's CamelToLower: HealthCheckRequest -> health_check_request."""
    out = []
    was_upper = True
    for char in piece:
        is_upper = char.isupper()
        if is_upper and not was_upper:
            out.append("_")
        out.append(char.lower() if is_upper else char)
        was_upper = is_upper
    return "".join(out)


def c_type(declared: Union[Message, Enum]) -> str:
    """Billing__V1__Invoice, Grpc__Health__V1__HealthCheckResponse__ServingStatus."""
    return "__".join(c_camel(piece) for piece in declared.full_name.split("."))


def c_function_prefix(message: Message) -> str:
    """billing__v1__create_account_request (then __init, __unpack)."""
    return "__".join(c_lower(piece) for piece in message.full_name.split("."))


def is_top_level(message: Message) -> bool:
    return len(message.path) == 1


def c_field(fld: Field) -> str:
    """protoc-c's FieldName: lower case, with '_' after C and C++ keywords; escaped again for Swift."""
    name = fld.name.lower()
    return escape(name + "_" if name in C_KEYWORDS else name)


def c_case_field(oneof_name: str) -> str:
    """protoc-c's member that says which field of a oneof is set: `payment_case`, `_retries_case` (the
    synthetic oneof of a proto3 optional field)."""
    return oneof_name.lower() + "_case"


def verify_c_names(files: list[ProtoFile], header_dir: str) -> None:
    """The C names above follow protoc-c's rules; checking them against the headers turns a protoc-c
    change into a clear message here instead of a wall of Swift compiler errors."""
    for proto in files:
        header_path = os.path.join(header_dir, proto.flat_name + ".pb-c.h")
        if not os.path.exists(header_path):
            raise GeneratorError(f"{header_path} is missing: run proto/generate.sh, which runs protoc-c first")
        with open(header_path, encoding="utf-8") as handle:
            header = handle.read()
        for message in all_messages(proto):
            struct = re.search(r"struct\s+" + re.escape(c_type(message)) + r"\s*\{(.*?)\n\};", header, re.S)
            if not struct:
                raise GeneratorError(f"{header_path}: no struct {c_type(message)} for {message.full_name}")
            # protoc-c gives only top-level messages their own unpack function.
            for suffix in ("__init", "__unpack") if is_top_level(message) else ("__init",):
                if not re.search(r"\b" + re.escape(c_function_prefix(message) + suffix) + r"\b", header):
                    raise GeneratorError(f"{header_path}: no function {c_function_prefix(message)}{suffix}")
            names = [c_field(f).strip("`") for f in message.fields]
            names += ["n_" + c_field(f).strip("`") for f in message.fields if f.repeated]
            names += [c_case_field(o.name) for o in message.oneofs]
            names += [c_case_field(f.presence_oneof) for f in message.fields if f.presence_oneof]
            for name in names:
                if not re.search(r"[\s*]" + re.escape(name) + r";", struct.group(1)):
                    raise GeneratorError(f"{header_path}: struct {c_type(message)} has no field {name}")
        for enum in all_enums(proto):
            if not re.search(r"\}\s*" + re.escape(c_type(enum)) + r";", header):
                raise GeneratorError(f"{header_path}: no enum {c_type(enum)} for {enum.full_name}")


# --------------------------------------------------------------------------------------------------
# Emitting Swift: shared helpers
# --------------------------------------------------------------------------------------------------

INDENT = "    "
LINE_LIMIT = 120


def header(proto: ProtoFile) -> list[str]:
    return [f"// Generated by proto/generate_swift.py from {proto.path}: do not edit."]


def doc_lines(doc: list[str], indent: str) -> list[str]:
    return [f"{indent}///{' ' + line if line else ''}".rstrip() for line in doc]


def call(prefix: str, arguments: list[str], suffix: str, indent: str) -> list[str]:
    """`prefix(a, b)suffix` on one line when it fits, else one argument per line."""
    one_line = f"{indent}{prefix}({', '.join(arguments)}){suffix}"
    if len(one_line) <= LINE_LIMIT or not arguments:
        return [one_line]
    return [f"{indent}{prefix}(", *[f"{indent}{INDENT}{argument}," for argument in arguments[:-1]],
            f"{indent}{INDENT}{arguments[-1]}", f"{indent}){suffix}"]


def element_swift_type(fld: Field) -> str:
    """One value of the field: the Swift type of a single element, ignoring repeated and presence."""
    return swift_type(fld.target) if fld.target is not None else SWIFT_SCALARS[fld.type_name]


def map_key_value(fld: Field) -> tuple[Field, Field]:
    """A map field's entry fields: key = 1, value = 2."""
    entry = fld.target
    assert isinstance(entry, Message)
    by_number = {f.number: f for f in entry.fields}
    return by_number[1], by_number[2]


def field_swift_type(fld: Field) -> str:
    if fld.is_map:
        key, value = map_key_value(fld)
        return f"[{element_swift_type(key)}: {element_swift_type(value)}]"
    element = element_swift_type(fld)
    if fld.repeated:
        return f"[{element}]"
    # Message fields have presence in proto3, and so have `optional` fields: nil is "not set".
    return f"{element}?" if fld.is_message or fld.presence_oneof else element


def oneof_type_name(oneof: Oneof) -> str:
    """payment_method -> PaymentMethod: the Swift enum nested in the message."""
    return "".join(upper_first(part) for part in oneof.name.split("_") if part)


def member_swift_name(member: Union[Field, Oneof]) -> str:
    return swift_field_name(member.name)


def member_swift_type(member: Union[Field, Oneof]) -> str:
    return f"{oneof_type_name(member)}?" if isinstance(member, Oneof) else field_swift_type(member)


def member_default(member: Union[Field, Oneof]) -> str:
    return "nil" if isinstance(member, Oneof) else field_default(member)


def field_default(fld: Field) -> str:
    if fld.is_map:
        return "[:]"
    if fld.repeated:
        return "[]"
    if fld.is_message or fld.presence_oneof:
        return "nil"
    if fld.is_enum:
        return "." + escape(swift_case_name(fld.target, fld.target.values[0].name))  # type: ignore[union-attr]
    return SCALAR_DEFAULTS[fld.type_name]


# --------------------------------------------------------------------------------------------------
# Emitter 1: Sources/BillingAPI/<flat>.pb.swift
# --------------------------------------------------------------------------------------------------


def emit_api(proto: ProtoFile, declares_namespace: bool, imports: list[str]) -> str:
    namespace = swift_namespace(proto.package)
    lines = header(proto) + [""] + [f"import {module}" for module in imports] + [""]
    if declares_namespace:
        lines += [f"/// The messages, enums and services of the protobuf package `{proto.package}`.",
                  f"public enum {namespace} {{}}", ""]
    lines.append(f"extension {namespace} {{")
    body: list[str] = []
    for declared in proto.order:
        body.append("")
        if isinstance(declared, Message):
            body += emit_message(declared, INDENT)
        elif isinstance(declared, Enum):
            body += emit_enum(declared, INDENT)
        else:
            body += emit_service_names(declared, INDENT)
    lines += body[1:]
    lines += ["}", ""]

    # The protobuf-c mapping stays internal: callers see Swift values and bytes only.
    lines += ["// MARK: - protobuf-c mapping", ""]
    for enum in all_enums(proto):
        lines += emit_enum_mapping(enum) + [""]
    for message in swift_messages(proto):
        lines += emit_message_mapping(message) + [""]
        for oneof in message.oneofs:
            lines += emit_oneof_mapping(message, oneof) + [""]
    if any(not is_top_level(message) for message in swift_messages(proto)):
        lines += NESTED_UNPACK_HELPERS + [""]
    return "\n".join(lines[:-1]) + "\n"


# protoc-c writes `…__unpack` for top-level messages only. A nested message decodes
# through its descriptor instead, read from a struct its `…__init` set up: that is the address protobuf-c's
# own code uses (a Swift copy of the `extern const` descriptor would not outlive the call).
NESTED_UNPACK_HELPERS = [
    "/// Decodes a nested message, for which protoc-c generates no `…__unpack` function.",
    "private func unpackNested<M>(",
    f"{INDENT}initializedBy initialize: @escaping (UnsafeMutablePointer<M>) -> Void",
    ") -> (UnsafeMutablePointer<ProtobufCAllocator>?, Int, UnsafePointer<UInt8>?) -> UnsafeMutablePointer<M>? {",
    f"{INDENT}{{ allocator, length, data in",
    f"{INDENT * 2}let empty = UnsafeMutablePointer<M>.allocate(capacity: 1)",
    f"{INDENT * 2}defer {{ empty.deallocate() }}",
    f"{INDENT * 2}initialize(empty)",
    f"{INDENT * 2}let descriptor = UnsafeRawPointer(empty).assumingMemoryBound(to: ProtobufCMessage.self).pointee.descriptor",
    f"{INDENT * 2}return protobuf_c_message_unpack(descriptor, allocator, length, data).map {{",
    f"{INDENT * 3}UnsafeMutableRawPointer($0).assumingMemoryBound(to: M.self)",
    f"{INDENT * 2}}}",
    f"{INDENT}}}",
    "}",
]


def emit_message(message: Message, indent: str) -> list[str]:
    inner = indent + INDENT
    lines = doc_lines(message.doc, indent)
    lines.append(f"{indent}public struct {message.name}: WireMessage, Hashable, Sendable {{")
    for nested in message.nested_order:
        if isinstance(nested, Message) and nested.is_map_entry:
            continue
        lines += (emit_message(nested, inner) if isinstance(nested, Message) else emit_enum(nested, inner)) + [""]
    for oneof in message.oneofs:
        lines += emit_oneof(oneof, inner) + [""]
    members = message.members()
    for member in members:
        lines += doc_lines(member.doc, inner)
        lines.append(f"{inner}public var {escape(member_swift_name(member))}: {member_swift_type(member)}")
    if members:
        lines.append("")

    # Memberwise, every argument defaulted: callers name only what they set, as in proto3.
    parameters = [f"{escape(member_swift_name(m))}: {member_swift_type(m)} = {member_default(m)}" for m in members]
    if parameters:
        lines += call("public init", parameters, " {", inner)
        for member in members:
            name = escape(member_swift_name(member))
            lines.append(f"{inner}{INDENT}self.{name} = {name}")
        lines.append(f"{inner}}}")
    else:
        lines.append(f"{inner}public init() {{}}")
    lines.append("")

    prefix = c_function_prefix(message)
    unpack = f"{prefix}__unpack" if is_top_level(message) else f"unpackNested(initializedBy: {prefix}__init)"
    lines += [
        f"{inner}public init(wireBytes: [UInt8]) throws(RPCError) {{",
        f"{inner}{INDENT}self = try unpackProtobufC(",
        f"{inner}{INDENT}{INDENT}wireBytes, as: \"{'.'.join(message.path)}\", unpack: {unpack}",
        f"{inner}{INDENT}) {{ (c: {c_type(message)}) throws(RPCError) in try Self(c: c) }}",
        f"{inner}}}",
        "",
        f"{inner}public func wireBytes() -> [UInt8] {{",
        f"{inner}{INDENT}let arena = ProtobufCArena()",
        # The C struct points into the arena: keep the arena alive until packing is done.
        f"{inner}{INDENT}return withExtendedLifetime(arena) {{ packProtobufC(cStruct(in: arena)) }}",
        f"{inner}}}",
        f"{indent}}}",
    ]
    return lines


def emit_oneof(oneof: Oneof, indent: str) -> list[str]:
    inner = indent + INDENT
    lines = doc_lines(oneof.doc, indent)
    if oneof.doc:
        lines.append(f"{indent}///")
    lines += [
        f"{indent}/// The oneof `{oneof.name}`: at most one of these is set (the property is nil when none is).",
        f"{indent}public enum {oneof_type_name(oneof)}: Hashable, Sendable {{",
    ]
    for fld in oneof.fields:
        lines += doc_lines(fld.doc, inner)
        lines.append(f"{inner}case {escape(swift_field_name(fld.name))}({element_swift_type(fld)})")
    lines.append(f"{indent}}}")
    return lines


def emit_enum(enum: Enum, indent: str) -> list[str]:
    inner = indent + INDENT
    lines = doc_lines(enum.doc, indent)
    if enum.doc:
        lines.append(f"{indent}///")
    zero = escape(swift_case_name(enum, enum.values[0].name))
    lines += [
        f"{indent}/// An open enum, as proto3 enums are: a number this code does not know (sent by a newer",
        f"{indent}/// schema) decodes as `.{zero.strip('`')}`, the 0 case.",
        f"{indent}public enum {enum.name}: Int32, Sendable, Hashable, CaseIterable, CustomStringConvertible {{",
    ]
    for value in enum.values:
        lines += doc_lines(value.doc, inner)
        lines.append(f"{inner}case {escape(swift_case_name(enum, value.name))} = {value.number}")
    lines += [
        "",
        f"{inner}/// The value's name in the .proto file.",
        f"{inner}public var description: String {{",
        f"{inner}{INDENT}switch self {{",
    ]
    for value in enum.values:
        lines.append(f"{inner}{INDENT}case .{escape(swift_case_name(enum, value.name))}: \"{value.name}\"")
    lines += [f"{inner}{INDENT}}}", f"{inner}}}", f"{indent}}}"]
    return lines


def emit_service_names(service: Service, indent: str) -> list[str]:
    inner = indent + INDENT
    lines = doc_lines(service.doc, indent)
    lines += [
        f"{indent}public enum {service.name} {{",
        f"{inner}/// The fully qualified service name that requests carry.",
        f"{inner}public static let name = \"{service.full_name}\"",
        "",
        f"{inner}/// The service's methods; `rawValue` is the method name on the wire.",
        f"{inner}public enum Method: String, CaseIterable, Sendable {{",
    ]
    for rpc in service.rpcs:
        lines += doc_lines(rpc.doc, inner + INDENT)
        lines.append(f"{inner}{INDENT}case {escape(swift_method_name(rpc.name))} = \"{rpc.name}\"")
    lines += [f"{inner}}}", f"{indent}}}"]
    return lines


def emit_enum_mapping(enum: Enum) -> list[str]:
    c_enum = c_type(enum)
    zero = escape(swift_case_name(enum, enum.values[0].name))
    # C enums import as structs whose rawValue is UInt32 (Int32 if a value is negative): converting with
    # truncatingIfNeeded works for both and keeps negative proto values intact.
    return [
        f"extension {swift_type(enum)} {{",
        f"{INDENT}/// Unknown numbers become `.{zero.strip('`')}` (proto3 enums are open).",
        f"{INDENT}init(c: {c_enum}) {{",
        f"{INDENT}{INDENT}self = Self(rawValue: Int32(truncatingIfNeeded: c.rawValue)) ?? .{zero}",
        f"{INDENT}}}",
        "",
        f"{INDENT}var cValue: {c_enum} {{",
        f"{INDENT}{INDENT}{c_enum}(rawValue: .init(truncatingIfNeeded: rawValue))",
        f"{INDENT}}}",
        "}",
    ]


def read_expression(fld: Field, source: str = "c") -> tuple[str, bool]:
    """How init(c:) reads one field out of the C struct `source`; and whether that can throw. The
    expression has no `try` of its own: the caller puts one in front of the whole statement."""
    member = f"{source}.{c_field(fld)}"
    count = f"{source}.n_{c_field(fld).strip('`')}"
    if fld.is_map:
        key, value = map_key_value(fld)
        entry = c_type(fld.target)  # type: ignore[arg-type]
        key_read, _ = read_expression(key, "entry")
        value_read, value_throws = read_expression(value, "entry")
        if value.is_message:  # a map value is never nil: an entry without one holds the empty message
            value_read = f"try {value_read} ?? {element_swift_type(value)}()"
        return (f"ProtobufCField.map({count}, {member}) {{ (entry: {entry}) throws(RPCError) in "
                f"({key_read}, {value_read}) }}"), True
    if fld.repeated:
        buffer = f"UnsafeBufferPointer(start: {member}, count: {count})"
        if fld.is_message:
            return f"ProtobufCField.repeated({count}, {member}, {swift_type(fld.target)}.init(c:))", True  # type: ignore[arg-type]
        if fld.is_enum:
            return f"{buffer}.map({swift_type(fld.target)}.init(c:))", False  # type: ignore[arg-type]
        return {
            "string": (f"{buffer}.map(ProtobufCField.string)", False),
            "bytes": (f"{buffer}.map(ProtobufCField.bytes)", False),
            "bool": (f"{buffer}.map {{ $0 != 0 }}", False),
        }.get(fld.type_name, (f"Array({buffer})", False))
    if fld.is_message:
        expression, throws = f"{swift_type(fld.target)}(cPointer: {member})", True  # type: ignore[arg-type]
    elif fld.is_enum:
        expression, throws = f"{swift_type(fld.target)}(c: {member})", False  # type: ignore[arg-type]
    else:
        expression, throws = {
            "string": (f"ProtobufCField.string({member})", False),
            "bytes": (f"ProtobufCField.bytes({member})", False),
            "bool": (f"{member} != 0", False),  # protobuf_c_boolean is a C int
        }.get(fld.type_name, (member, False))
    if fld.presence_oneof:
        # protobuf-c keeps a proto3 optional field as a oneof of one: its case field says whether it is set.
        case = f"{source}.{c_case_field(fld.presence_oneof)}.rawValue == {fld.number}"
        return f"{case} ? {expression} : nil", throws
    return expression, throws


def write_statements(fld: Field, value: Optional[str] = None, target_struct: str = "c") -> list[str]:
    """How cStruct(in:) stores one field into the C struct `target_struct`, allocating in `arena`. `value`
    is a non-optional Swift expression for the field's value; by default the struct's own property."""
    target = f"{target_struct}.pointee.{c_field(fld)}"
    own = f"self.{escape(swift_field_name(fld.name))}"
    if fld.presence_oneof and value is None:
        case = f"{target_struct}.pointee.{c_case_field(fld.presence_oneof)}"
        return [f"if let value = {own} {{",
                f"{INDENT}{case} = .init(rawValue: {fld.number})",
                *[f"{INDENT}{line}" for line in write_statements(fld, "value", target_struct)],
                "}"]
    if fld.is_map:
        key, entry_value = map_key_value(fld)
        entry = c_type(fld.target)  # type: ignore[arg-type]
        # Entries in key order, so that equal maps encode to equal bytes.
        order = "{ !$0.key && $1.key }" if key.type_name == "bool" else "{ $0.key < $1.key }"
        return [
            f"{target_struct}.pointee.n_{c_field(fld).strip('`')} = {own}.count",
            f"{target} = arena.array({own}.sorted {order}.map {{ key, value -> UnsafeMutablePointer<{entry}>? in",
            f"{INDENT}let entry = arena.message({c_function_prefix(fld.target)}__init)",  # type: ignore[arg-type]
            *[f"{INDENT}{line}" for line in write_statements(key, "key", "entry")],
            *[f"{INDENT}{line}" for line in write_statements(entry_value, "value", "entry")],
            f"{INDENT}return entry",
            "})",
        ]
    if fld.repeated:
        if fld.is_message:
            elements = f"{own}.map {{ Optional($0.cStruct(in: arena)) }}"
        elif fld.is_enum:
            elements = f"{own}.map(\\.cValue)"
        else:
            elements = {
                "string": f"{own}.map {{ Optional(arena.string($0)) }}",
                "bytes": f"{own}.map {{ arena.bytes($0) }}",
                "bool": f"{own}.map {{ (flag) -> protobuf_c_boolean in flag ? 1 : 0 }}",
            }.get(fld.type_name, own)
        return [f"{target_struct}.pointee.n_{c_field(fld).strip('`')} = {own}.count", f"{target} = arena.array({elements})"]
    if fld.is_message:
        return [f"{target} = {value}.cStruct(in: arena)" if value else f"{target} = {own}?.cStruct(in: arena)"]
    value = value or own
    if fld.is_enum:
        return [f"{target} = {value}.cValue"]
    return [{
        "string": f"{target} = arena.string({value})",
        "bytes": f"{target} = arena.bytes({value})",
        "bool": f"{target} = {value} ? 1 : 0",
    }.get(fld.type_name, f"{target} = {value}")]


def oneof_read_throws(oneof: Oneof) -> bool:
    return any(fld.is_message for fld in oneof.fields)


def emit_message_mapping(message: Message) -> list[str]:
    c_struct = c_type(message)
    reads: list[tuple[str, bool]] = []
    for member in message.members():
        if isinstance(member, Oneof):
            reads.append((f"{label(member_swift_name(member))}: {swift_type(message)}.{oneof_type_name(member)}(c: c)",
                          oneof_read_throws(member)))
        else:
            expression, throws = read_expression(member)
            reads.append((f"{label(member_swift_name(member))}: {expression}", throws))
    any_throws = any(throws for _, throws in reads)
    lines = [f"extension {swift_type(message)} {{",
             f"{INDENT}/// Copies every field out of a decoded C struct, so that nothing points into it afterwards."]
    if reads:
        lines.append(f"{INDENT}init(c: {c_struct}) throws(RPCError) {{")
        lines += call(("try " if any_throws else "") + "self.init", [text for text, _ in reads], "", INDENT * 2)
    else:
        lines.append(f"{INDENT}init(c _: {c_struct}) throws(RPCError) {{")
        lines.append(f"{INDENT * 2}self.init()")
    lines += [
        f"{INDENT}}}",
        "",
        f"{INDENT}/// A sub-message field: nil when the sender did not set it.",
        f"{INDENT}init?(cPointer: UnsafeMutablePointer<{c_struct}>?) throws(RPCError) {{",
        f"{INDENT * 2}guard let cPointer else {{ return nil }}",
        f"{INDENT * 2}try self.init(c: cPointer.pointee)",
        f"{INDENT}}}",
        "",
        f"{INDENT}/// The C struct for packing, with every string, array and sub-message allocated in `arena`.",
        f"{INDENT}func cStruct(in arena: ProtobufCArena) -> UnsafeMutablePointer<{c_struct}> {{",
        f"{INDENT * 2}let c = arena.message({c_function_prefix(message)}__init)",
    ]
    for member in message.members():
        if isinstance(member, Oneof):
            lines.append(f"{INDENT * 2}self.{escape(member_swift_name(member))}?.write(into: c, arena: arena)")
        else:
            lines += [f"{INDENT * 2}{statement}" for statement in write_statements(member)]
    lines += [f"{INDENT * 2}return c", f"{INDENT}}}", "}"]
    return lines


def emit_oneof_mapping(message: Message, oneof: Oneof) -> list[str]:
    """A oneof through protobuf-c: `<name>_case` holds the set member's field number (0 when none), and
    the members share an anonymous union, which Swift sees as plain members of the struct."""
    c_struct = c_type(message)
    case_field = c_case_field(oneof.name)
    throws = oneof_read_throws(oneof)
    lines = [
        f"extension {swift_type(message)}.{oneof_type_name(oneof)} {{",
        f"{INDENT}/// The member that `{case_field}` names, or nil when none is set.",
        f"{INDENT}init?(c: {c_struct}){' throws(RPCError)' if throws else ''} {{",
        f"{INDENT * 2}switch c.{case_field}.rawValue {{",
    ]
    for fld in oneof.fields:
        expression, _ = read_expression(fld)
        if fld.is_message:  # set, so present: protobuf-c allocated it
            expression = f"try {expression} ?? {element_swift_type(fld)}()"
        lines.append(f"{INDENT * 2}case {fld.number}: self = .{escape(swift_field_name(fld.name))}({expression})")
    lines += [
        f"{INDENT * 2}default: return nil",
        f"{INDENT * 2}}}",
        f"{INDENT}}}",
        "",
        f"{INDENT}/// Sets `{case_field}` and the member's value in `c`.",
        f"{INDENT}func write(into c: UnsafeMutablePointer<{c_struct}>, arena: ProtobufCArena) {{",
        f"{INDENT * 2}switch self {{",
    ]
    for fld in oneof.fields:
        lines += [
            f"{INDENT * 2}case .{escape(swift_field_name(fld.name))}(let value):",
            f"{INDENT * 3}c.pointee.{case_field} = .init(rawValue: {fld.number})",
            *[f"{INDENT * 3}{line}" for line in write_statements(fld, "value")],
        ]
    lines += [f"{INDENT * 2}}}", f"{INDENT}}}", "}"]
    return lines


# --------------------------------------------------------------------------------------------------
# Emitter 2: clients/swift/BillingClient/Generated/<flat>+Client.swift
# --------------------------------------------------------------------------------------------------


def emit_client(proto: ProtoFile) -> str:
    lines = header(proto) + ["", "import BillingAPI", "import BillingWire"]
    for service in proto.services:
        names = swift_type_of_service(proto, service)
        lines += [""] + doc_lines(service.doc, "")
        if service.doc:
            lines.append("///")
        lines += [
            f"/// Typed calls to `{service.full_name}`. Every call defaults to `isIdempotent: true`: reads are",
            "/// idempotent, and every write carries an idempotency key, so a call that failed UNAVAILABLE after it",
            "/// was sent may be retried safely.",
            f"public struct {service.name}Client: Sendable {{",
            f"{INDENT}public let client: RPCClient",
            "",
            f"{INDENT}public init(_ client: RPCClient) {{",
            f"{INDENT * 2}self.client = client",
            f"{INDENT}}}",
        ]
        for rpc in service.rpcs:
            request, response = swift_type(rpc.request), swift_type(rpc.response)  # type: ignore[arg-type]
            method = f"{names}.Method.{escape(swift_method_name(rpc.name))}.rawValue"
            lines += ["", *doc_lines(rpc.doc, INDENT)]
            if rpc.doc:
                lines.append(f"{INDENT}///")
            if rpc.server_streaming:
                lines += [
                    f"{INDENT}/// Calls `{service.full_name}/{rpc.name}`: the messages arrive as the server sends them.",
                    f"{INDENT}public func {escape(swift_method_name(rpc.name))}(",
                    f"{INDENT * 2}_ request: {request}, options: CallOptions = CallOptions(isIdempotent: true)",
                    f"{INDENT}) -> ServerStream<{response}> {{",
                    f"{INDENT * 2}client.serverStream(",
                    f"{INDENT * 3}{names}.name, {method}, request,",
                    f"{INDENT * 3}as: {response}.self, options: options",
                    f"{INDENT * 2})",
                    f"{INDENT}}}",
                ]
            else:
                lines += [
                    f"{INDENT}/// Calls `{service.full_name}/{rpc.name}`.",
                    f"{INDENT}public func {escape(swift_method_name(rpc.name))}(",
                    f"{INDENT * 2}_ request: {request}, options: CallOptions = CallOptions(isIdempotent: true)",
                    f"{INDENT}) async throws(RPCError) -> {response} {{",
                    f"{INDENT * 2}try await client.unary(",
                    f"{INDENT * 3}{names}.name, {method}, request,",
                    f"{INDENT * 3}as: {response}.self, options: options",
                    f"{INDENT * 2})",
                    f"{INDENT}}}",
                ]
        lines.append("}")
    return "\n".join(lines) + "\n"


def swift_type_of_service(proto: ProtoFile, service: Service) -> str:
    return f"{swift_namespace(proto.package)}.{service.name}"


# --------------------------------------------------------------------------------------------------
# Emitter 3: Sources/BillingService/Generated/<flat>+Server.swift
# --------------------------------------------------------------------------------------------------


def emit_server(proto: ProtoFile) -> str:
    lines = header(proto) + ["", "import BillingAPI", "import BillingServer"]
    for service in proto.services:
        names = swift_type_of_service(proto, service)
        protocol = f"{service.name}Handlers"
        lines += [""] + doc_lines(service.doc, "")
        if service.doc:
            lines.append("///")
        lines += [
            f"/// The handlers of `{service.full_name}`, one per rpc. Conforming types get `serviceName` and",
            "/// `methods` (the decoding and encoding around each handler) from the extension below.",
            f"public protocol {protocol}: RPCService {{",
        ]
        for index, rpc in enumerate(service.rpcs):
            request, response = swift_type(rpc.request), swift_type(rpc.response)  # type: ignore[arg-type]
            if index:
                lines.append("")
            lines += doc_lines(rpc.doc, INDENT)
            if rpc.doc:
                lines.append(f"{INDENT}///")
            lines.append(f"{INDENT}/// Serves `{service.full_name}/{rpc.name}`.")
            if rpc.server_streaming:
                lines.append(f"{INDENT}func {escape(swift_method_name(rpc.name))}(_ request: {request}, context: CallContext, "
                             f"stream: TypedStreamWriter<{response}>) async throws")
            else:
                lines.append(f"{INDENT}func {escape(swift_method_name(rpc.name))}(_ request: {request}, context: CallContext) "
                             f"async throws -> {response}")
        lines += [
            "}",
            "",
            f"extension {protocol} {{",
            f"{INDENT}public static var serviceName: String {{ {names}.name }}",
            "",
            f"{INDENT}public var methods: [String: MethodHandler] {{",
            f"{INDENT * 2}[",
        ]
        for rpc in service.rpcs:
            request, response = swift_type(rpc.request), swift_type(rpc.response)  # type: ignore[arg-type]
            method = escape(swift_method_name(rpc.name))
            key = f"{names}.Method.{method}.rawValue"
            if rpc.server_streaming:
                lines += [
                    f"{INDENT * 3}{key}: .serverStream {{ (request: {request}, context, stream: TypedStreamWriter<{response}>) in",
                    f"{INDENT * 4}try await self.{method}(request, context: context, stream: stream)",
                    f"{INDENT * 3}}},",
                ]
            else:
                lines += [
                    f"{INDENT * 3}{key}: .unary {{ (request: {request}, context) in",
                    f"{INDENT * 4}try await self.{method}(request, context: context)",
                    f"{INDENT * 3}}},",
                ]
        lines += [f"{INDENT * 2}]", f"{INDENT}}}", "}"]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------------
# Writing the outputs
# --------------------------------------------------------------------------------------------------

@dataclass
class Layout:
    """Where one set of protos goes: the C module its Swift code imports, and the Swift folders."""
    c_module: str
    c_headers: str  # relative to the output root
    # (proto package prefix, folder, imports): the first match wins; "" matches every package.
    api_dirs: list[tuple[str, str, list[str]]]
    client_dir: Optional[str] = None
    server_dir: Optional[str] = None

    def api_route(self, proto: ProtoFile) -> tuple[str, list[str]]:
        for prefix, directory, imports in self.api_dirs:
            if (proto.package + ".").startswith(prefix):
                return directory, imports
        raise GeneratorError(f"{proto.path}: no output folder for package {proto.package}")

    @property
    def folders(self) -> list[str]:
        found = [directory for _, directory, _ in self.api_dirs]
        return found + [d for d in (self.client_dir, self.server_dir) if d is not None]


LAYOUTS = {
    # The service's protos. The envelope is the RPC layer's own message set, so its Swift types live in
    # BillingWire beside the framing; everything else in BillingAPI, which builds on BillingWire.
    "service": Layout(
        c_module="BillingProtos",
        c_headers="Sources/BillingProtos/include",
        api_dirs=[
            ("billing.rpc.", "Sources/BillingWire/Generated", ["BillingProtos"]),
            ("", "Sources/BillingAPI", ["BillingProtos", "BillingWire"]),
        ],
        client_dir="clients/swift/BillingClient/Generated",
        server_dir="Sources/BillingService/Generated",
    ),
    # The generator's own test protos (Tests/proto): compiled into a C target of their own and Swift types
    # in the wire tests, which round-trip them through protobuf-c. Never part of the service.
    "fixtures": Layout(
        c_module="FixtureProtos",
        c_headers="Tests/FixtureProtos/include",
        api_dirs=[("", "Tests/BillingWireTests/Generated", ["BillingWire", "FixtureProtos"])],
    ),
}


def generate(descriptor_set: str, layout: Layout, out_root: str) -> dict[str, str]:
    """Relative output path -> file contents."""
    files = load(descriptor_set)
    resolve(files)
    check(files)
    verify_c_names(files, os.path.join(out_root, layout.c_headers))

    outputs: dict[str, str] = {}
    namespaces_declared: set[str] = set()
    for proto in files:
        directory, imports = layout.api_route(proto)
        # Files of one package share the namespace; only the first (in path order) declares it.
        outputs[f"{directory}/{proto.flat_name}.pb.swift"] = emit_api(
            proto, proto.package not in namespaces_declared, imports)
        namespaces_declared.add(proto.package)
    if layout.client_dir and layout.server_dir:
        for proto in stub_files(files):
            outputs[f"{layout.client_dir}/{proto.flat_name}+Client.swift"] = emit_client(proto)
            outputs[f"{layout.server_dir}/{proto.flat_name}+Server.swift"] = emit_server(proto)
    return outputs


def write(outputs: dict[str, str], folders: list[str], out_root: str) -> None:
    """Replaces the generated folders' contents with `outputs`; files whose bytes are unchanged are left
    alone so that their timestamps (and incremental builds) survive a regeneration."""
    for directory in folders:
        absolute = os.path.join(out_root, directory)
        if os.path.isdir(absolute):
            for current, _, names in os.walk(absolute, topdown=False):
                for name in names:
                    path = os.path.join(current, name)
                    if os.path.relpath(path, out_root).replace(os.sep, "/") not in outputs:
                        os.remove(path)
                if not os.listdir(current):
                    os.rmdir(current)
    for relative, contents in outputs.items():
        path = os.path.join(out_root, relative)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        data = contents.encode("utf-8")
        if os.path.exists(path):
            with open(path, "rb") as handle:
                if handle.read() == data:
                    continue
        with open(path, "wb") as handle:
            handle.write(data)


def main() -> int:
    here = os.path.dirname(os.path.abspath(__file__))
    arguments = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    arguments.add_argument("--descriptor-set", required=True,
                           help="protoc's -o output, written with --include_source_info and --include_imports")
    arguments.add_argument("--c-descriptor-set", metavar="OUT",
                           help="only write the set protoc-c is to generate C from (proto3 optional as a oneof) to OUT")
    arguments.add_argument("--layout", choices=sorted(LAYOUTS), default="service")
    arguments.add_argument("--out-root", default=os.path.dirname(here),
                           help="where Sources/, clients/ and Tests/ are (default: the repository root); the "
                                "layout's C headers must already hold protoc-c's output")
    options = arguments.parse_args()
    try:
        if options.c_descriptor_set:
            write_c_descriptor_set(options.descriptor_set, options.c_descriptor_set)
            return 0
        layout = LAYOUTS[options.layout]
        write(generate(options.descriptor_set, layout, options.out_root), layout.folders, options.out_root)
    except GeneratorError as error:
        print(f"generate_swift.py: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
