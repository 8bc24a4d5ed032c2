#!/usr/bin/env python3
"""Generates Swift message types, service names and RPC stubs from the .proto files under proto/.

The Swift types are plain values (structs, enums); their encoding goes through the protobuf-c code that
proto/generate.sh has already put in Sources/BillingProtos, the same way the hand-written envelope in
Sources/BillingWire/Envelope.swift does. Three outputs, under --out-root (default: the repository root):

  Sources/BillingAPI/<flat>.pb.swift                          every message, enum and service name
  clients/swift/BillingClient/Generated/<flat>+Client.swift   typed client stubs (billing.* services)
  Sources/BillingService/Generated/<flat>+Server.swift        handler protocols (billing.* services)

where <flat> is the proto path with '/' turned into '_' and '.proto' dropped, as for the C files.

Only a subset of proto3 is understood (see Parser); anything else stops the generator with exit
status 1 and a message naming the file and line, rather than producing code that is subtly wrong.
Standard library only, so that regenerating needs nothing beyond python3 and protoc-c.

The file reads top-down: lexer, model, parser, name resolution and checks, naming rules (Swift's, and
protoc-c's for the C side), one emitter per output, then the writer and main().
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from dataclasses import dataclass, field
from typing import Optional, Union

# The envelope is the RPC layer's own framing: it stays hand-written in BillingWire.
SKIPPED_PROTOS = {"billing/rpc/v1/envelope.proto"}

# Client and server stubs are generated only for our own services; health keeps its hand-written glue.
STUB_PACKAGE_PREFIX = "billing."

SCALAR_TYPES = {"int32", "int64", "uint32", "uint64", "bool", "string", "bytes"}


class GeneratorError(Exception):
    """A problem with the input; main() prints it and exits with status 1."""


# --------------------------------------------------------------------------------------------------
# Lexer
# --------------------------------------------------------------------------------------------------


@dataclass
class Token:
    kind: str  # "ident", "int", "string", "symbol"
    text: str
    line: int


TOKEN_PATTERN = re.compile(
    r"""
    (?P<space>[ \t\r\f\v]+)
  | (?P<newline>\n)
  | (?P<comment>//[^\n]*)
  | (?P<block>/\*)
  | (?P<string>"(?:[^"\\\n]|\\.)*"|'(?:[^'\\\n]|\\.)*')
  | (?P<int>-?(?:0[xX][0-9a-fA-F]+|\d+))
  | (?P<ident>\.?[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*)
  | (?P<symbol>[{}();=<>,\[\]])
    """,
    re.VERBOSE,
)


def tokenize(text: str, path: str) -> tuple[list[Token], dict[int, str]]:
    """Splits a .proto file into tokens, and collects whole-line `//` comments by line number
    (comments after code on the same line are not documentation of the next declaration)."""
    tokens: list[Token] = []
    comments: dict[int, str] = {}
    line = 1
    line_has_code = False
    position = 0
    while position < len(text):
        match = TOKEN_PATTERN.match(text, position)
        if not match:
            raise GeneratorError(f"{path}:{line}: unexpected character {text[position]!r}")
        kind = match.lastgroup
        value = match.group()
        position = match.end()
        if kind == "newline":
            line += 1
            line_has_code = False
        elif kind == "space":
            pass
        elif kind == "comment":
            if not line_has_code:
                body = value[2:]
                comments[line] = body[1:] if body.startswith(" ") else body
        elif kind == "block":
            raise GeneratorError(f"{path}:{line}: /* */ comments are outside the supported subset; use //")
        else:
            tokens.append(Token(kind, value, line))
            line_has_code = True
    return tokens, comments


# --------------------------------------------------------------------------------------------------
# Model
# --------------------------------------------------------------------------------------------------


@dataclass
class Field:
    name: str
    number: int
    type_name: str  # as written: a scalar, or a (possibly qualified) message or enum name
    repeated: bool
    doc: list[str]
    line: int
    target: Union["Message", "Enum", None] = None  # set by resolve() for message and enum types

    @property
    def is_message(self) -> bool:
        return isinstance(self.target, Message)

    @property
    def is_enum(self) -> bool:
        return isinstance(self.target, Enum)


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
    path: str  # relative to the proto directory: "billing/v1/billing.proto"
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
# Parser
# --------------------------------------------------------------------------------------------------


class Parser:
    """Recursive descent over our proto3 subset:

      syntax = "proto3";   package a.b;   import "other.proto";   // comments
      message M { [repeated] TYPE name = N;  message ... {}  enum ... {} }
      enum E { NAME = N; }
      service S { rpc Name(Req) returns ([stream] Resp); }

    Everything else (oneof, map, optional, options, reserved, extensions, proto2, groups, client
    streaming) is rejected with the file and line, so that nothing is silently dropped.
    """

    def __init__(self, path: str, text: str):
        self.path = path
        self.tokens, self.comments = tokenize(text, path)
        self.index = 0

    # Token helpers.

    def peek(self) -> Optional[Token]:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def fail(self, message: str, token: Optional[Token] = None) -> GeneratorError:
        token = token or self.peek()
        where = f"{self.path}:{token.line}" if token else f"{self.path}: at end of file"
        return GeneratorError(f"{where}: {message}")

    def next(self) -> Token:
        token = self.peek()
        if token is None:
            raise self.fail("unexpected end of file")
        self.index += 1
        return token

    def expect(self, text: str) -> Token:
        token = self.next()
        if token.text != text:
            raise self.fail(f"expected {text!r}, found {token.text!r}", token)
        return token

    def expect_kind(self, kind: str, what: str) -> Token:
        token = self.next()
        if token.kind != kind:
            raise self.fail(f"expected {what}, found {token.text!r}", token)
        return token

    def simple_name(self, what: str) -> Token:
        token = self.expect_kind("ident", what)
        if "." in token.text:
            raise self.fail(f"{what} must be a simple name, found {token.text!r}", token)
        return token

    def number(self) -> int:
        return int(self.expect_kind("int", "a number").text, 0)

    def doc_above(self, line: int) -> list[str]:
        """The `//` lines directly above `line` (no blank line in between) become doc comments."""
        lines: list[str] = []
        current = line - 1
        while current in self.comments:
            lines.insert(0, self.comments[current])
            current -= 1
        return lines

    # Grammar.

    def parse_file(self) -> ProtoFile:
        proto = ProtoFile(self.path, "", [], [], [], [])
        saw_syntax = False
        while (token := self.peek()) is not None:
            keyword = token.text
            if keyword == "syntax":
                self.next()
                self.expect("=")
                value = self.expect_kind("string", "a string")
                if value.text[1:-1] != "proto3":
                    raise self.fail(f"only proto3 is supported, found syntax {value.text}", value)
                self.expect(";")
                saw_syntax = True
            elif keyword == "package":
                self.next()
                if proto.package:
                    raise self.fail("a second package statement", token)
                name = self.expect_kind("ident", "a package name")
                if name.text.startswith("."):
                    raise self.fail("a package name cannot start with '.'", name)
                proto.package = name.text
                self.expect(";")
            elif keyword == "import":
                self.next()
                modifier = self.peek()
                if modifier is not None and modifier.text in ("public", "weak"):
                    raise self.fail(f"'import {modifier.text}' is outside the supported subset", modifier)
                proto.imports.append(self.expect_kind("string", "an import path").text[1:-1])
                self.expect(";")
            elif keyword == "message":
                message = self.parse_message(proto, [])
                proto.messages.append(message)
                proto.order.append(message)
            elif keyword == "enum":
                enum = self.parse_enum(proto, [])
                proto.enums.append(enum)
                proto.order.append(enum)
            elif keyword == "service":
                service = self.parse_service(proto)
                proto.services.append(service)
                proto.order.append(service)
            elif keyword == ";":
                self.next()
            else:
                raise self.fail(f"'{keyword}' is outside the supported subset (syntax, package, import, message, enum, service)")
        if not saw_syntax:
            raise GeneratorError(f'{self.path}: missing `syntax = "proto3";`')
        if not proto.package:
            raise GeneratorError(f"{self.path}: missing a package statement; the package names the Swift namespace")
        return proto

    def full_name(self, proto: ProtoFile, path: list[str]) -> str:
        return ".".join([proto.package, *path]) if proto.package else ".".join(path)

    def parse_message(self, proto: ProtoFile, outer: list[str]) -> Message:
        keyword = self.expect("message")
        name = self.simple_name("a message name")
        path = [*outer, name.text]
        message = Message(name.text, self.full_name(proto, path), path, self.doc_above(keyword.line), [], [], [], proto)
        self.expect("{")
        while True:
            token = self.peek()
            if token is None:
                raise self.fail(f"message {name.text} is not closed")
            if token.text == "}":
                self.next()
                break
            if token.text == ";":
                self.next()
            elif token.text == "message":
                nested = self.parse_message(proto, path)
                message.messages.append(nested)
                message.nested_order.append(nested)
            elif token.text == "enum":
                nested_enum = self.parse_enum(proto, path)
                message.enums.append(nested_enum)
                message.nested_order.append(nested_enum)
            elif token.text in ("oneof", "map", "optional", "required", "group", "reserved", "extensions",
                                "extend", "option"):
                raise self.fail(f"'{token.text}' is outside the supported subset")
            else:
                message.fields.append(self.parse_field())
        return message

    def parse_field(self) -> Field:
        first = self.peek()
        assert first is not None
        doc = self.doc_above(first.line)
        repeated = False
        if first.text == "repeated":
            self.next()
            repeated = True
        type_token = self.expect_kind("ident", "a field type")
        if type_token.text in ("float", "double", "sint32", "sint64", "fixed32", "fixed64", "sfixed32", "sfixed64"):
            raise self.fail(f"the scalar type '{type_token.text}' is outside the supported subset "
                            f"({', '.join(sorted(SCALAR_TYPES))})", type_token)
        name = self.simple_name("a field name")
        self.expect("=")
        number = self.number()
        after = self.next()
        if after.text == "[":
            raise self.fail("field options are outside the supported subset", after)
        if after.text != ";":
            raise self.fail(f"expected ';', found {after.text!r}", after)
        return Field(name.text, number, type_token.text, repeated, doc, first.line)

    def parse_enum(self, proto: ProtoFile, outer: list[str]) -> Enum:
        keyword = self.expect("enum")
        name = self.simple_name("an enum name")
        path = [*outer, name.text]
        enum = Enum(name.text, self.full_name(proto, path), path, self.doc_above(keyword.line), [], proto)
        self.expect("{")
        while True:
            token = self.next()
            if token.text == "}":
                break
            if token.text == ";":
                continue
            if token.text in ("option", "reserved"):
                raise self.fail(f"'{token.text}' in an enum is outside the supported subset", token)
            if token.kind != "ident" or "." in token.text:
                raise self.fail(f"expected an enum value name, found {token.text!r}", token)
            self.expect("=")
            number = self.number()
            after = self.next()
            if after.text != ";":
                raise self.fail("enum value options are outside the supported subset" if after.text == "["
                                else f"expected ';', found {after.text!r}", after)
            enum.values.append(EnumValue(token.text, number, self.doc_above(token.line)))
        return enum

    def parse_service(self, proto: ProtoFile) -> Service:
        keyword = self.expect("service")
        name = self.simple_name("a service name")
        service = Service(name.text, self.full_name(proto, [name.text]), self.doc_above(keyword.line), [])
        self.expect("{")
        while True:
            token = self.next()
            if token.text == "}":
                break
            if token.text == ";":
                continue
            if token.text != "rpc":
                raise self.fail(f"'{token.text}' in a service is outside the supported subset (rpc only)", token)
            rpc_name = self.simple_name("an rpc name")
            self.expect("(")
            request = self.expect_kind("ident", "a request type")
            if request.text == "stream" and self.peek() is not None and self.peek().text != ")":
                raise self.fail("client-streaming rpcs are outside the supported subset", request)
            self.expect(")")
            self.expect("returns")
            self.expect("(")
            response = self.expect_kind("ident", "a response type")
            streaming = False
            if response.text == "stream" and self.peek() is not None and self.peek().text != ")":
                streaming = True
                response = self.expect_kind("ident", "a response type")
            self.expect(")")
            after = self.next()
            if after.text == "{":
                # An empty body is allowed; rpc options are not.
                closing = self.next()
                if closing.text != "}":
                    raise self.fail("rpc options are outside the supported subset", closing)
            elif after.text != ";":
                raise self.fail(f"expected ';', found {after.text!r}", after)
            service.rpcs.append(Rpc(rpc_name.text, request.text, response.text, streaming,
                                    self.doc_above(token.line), token.line))
        return service


# --------------------------------------------------------------------------------------------------
# Resolution and checks
# --------------------------------------------------------------------------------------------------


def all_messages(container: Union[ProtoFile, Message]) -> list[Message]:
    """Every message in a file or message, nested ones included, parents first."""
    found = []
    for message in container.messages:
        found.append(message)
        found.extend(all_messages(message))
    return found


def all_enums(proto: ProtoFile) -> list[Enum]:
    return proto.enums + [enum for message in all_messages(proto) for enum in message.enums]


def resolve(files: list[ProtoFile]) -> None:
    """Binds every field and rpc type to its declaration, with protobuf's scoping rules: a relative
    name is looked up from the innermost scope outwards; a leading '.' makes it fully qualified."""
    by_path = {proto.path: proto for proto in files}
    types: dict[str, Union[Message, Enum]] = {}
    for proto in files:
        for declared in [*all_messages(proto), *all_enums(proto)]:
            if declared.full_name in types:
                raise GeneratorError(f"{proto.path}: {declared.full_name} is declared twice")
            types[declared.full_name] = declared

    for proto in files:
        for imported in proto.imports:
            if imported in SKIPPED_PROTOS:
                raise GeneratorError(f"{proto.path}: imports {imported}, whose types are hand-written in "
                                     "BillingWire and have no generated Swift types")
            if imported not in by_path:
                raise GeneratorError(f"{proto.path}: imports {imported}, which is not a file under proto/")
        visible_files = {proto.path, *proto.imports}

        def lookup(name: str, scope: str, line: int) -> Union[Message, Enum]:
            if name.startswith("."):
                candidates = [name[1:]]
            else:
                parts = scope.split(".") if scope else []
                candidates = [".".join([*parts[:i], name]) for i in range(len(parts), -1, -1)]
            for candidate in candidates:
                if candidate in types:
                    found = types[candidate]
                    if found.file.path not in visible_files:
                        raise GeneratorError(f"{proto.path}:{line}: {name} is declared in {found.file.path}, "
                                             "which this file does not import")
                    return found
            raise GeneratorError(f"{proto.path}:{line}: unknown type {name!r} (imports of types that no "
                                 "file under proto/ declares are outside the supported subset)")

        for message in all_messages(proto):
            for fld in message.fields:
                if fld.type_name not in SCALAR_TYPES:
                    fld.target = lookup(fld.type_name, message.full_name, fld.line)
        for service in proto.services:
            for rpc in service.rpcs:
                for attribute, name in (("request", rpc.request_name), ("response", rpc.response_name)):
                    target = lookup(name, proto.package, rpc.line)
                    if not isinstance(target, Message):
                        raise GeneratorError(f"{proto.path}:{rpc.line}: {name} is an enum; rpcs take and return messages")
                    setattr(rpc, attribute, target)


def check(files: list[ProtoFile]) -> None:
    """Rejects what would compile into wrong or clashing Swift."""
    for proto in files:
        scopes: list[tuple[str, list[str]]] = [(proto.package, [d.name for d in proto.order])]
        for message in all_messages(proto):
            scopes.append((message.full_name, [m.name for m in message.nested_order]))
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
            swift_names = [swift_field_name(f.name) for f in message.fields]
            for name in swift_names:
                if swift_names.count(name) > 1:
                    raise GeneratorError(f"{where}: two fields become the Swift property {name!r}")
        for enum in all_enums(proto):
            where = f"{proto.path}: enum {enum.full_name}"
            if not enum.values or enum.values[0].number != 0:
                raise GeneratorError(f"{where}: the first value must be 0 (proto3)")
            numbers = [v.number for v in enum.values]
            if len(set(numbers)) != len(numbers):
                raise GeneratorError(f"{where}: two values share a number (aliases are outside the supported subset)")
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
            raise GeneratorError(f"{message.file.path}: recursive message fields ({cycle}) are outside the "
                                 "supported subset")
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
    """billing__v1__create_account_request (then __init, __unpack, __free_unpacked)."""
    return "__".join(c_lower(piece) for piece in message.full_name.split("."))


def is_top_level(message: Message) -> bool:
    return len(message.path) == 1


def c_field(fld: Field) -> str:
    """protoc-c's FieldName: lower case, with '_' after C and C++ keywords; escaped again for Swift."""
    name = fld.name.lower()
    return escape(name + "_" if name in C_KEYWORDS else name)


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
            # protoc-c gives only top-level messages their own unpack and free functions.
            for suffix in ("__init", "__unpack", "__free_unpacked") if is_top_level(message) else ("__init",):
                if not re.search(r"\b" + re.escape(c_function_prefix(message) + suffix) + r"\b", header):
                    raise GeneratorError(f"{header_path}: no function {c_function_prefix(message)}{suffix}")
            names = [c_field(f).strip("`") for f in message.fields]
            names += ["n_" + c_field(f).strip("`") for f in message.fields if f.repeated]
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


SWIFT_SCALARS = {"int32": "Int32", "int64": "Int64", "uint32": "UInt32", "uint64": "UInt64", "bool": "Bool",
                 "string": "String", "bytes": "[UInt8]"}
SCALAR_DEFAULTS = {"int32": "0", "int64": "0", "uint32": "0", "uint64": "0", "bool": "false", "string": '""',
                   "bytes": "[]"}


def field_swift_type(fld: Field) -> str:
    if fld.target is not None:
        element = swift_type(fld.target)
    else:
        element = SWIFT_SCALARS[fld.type_name]
    if fld.repeated:
        return f"[{element}]"
    # Message fields have presence in proto3: nil is "not set".
    return f"{element}?" if fld.is_message else element


def field_default(fld: Field) -> str:
    if fld.repeated:
        return "[]"
    if fld.is_message:
        return "nil"
    if fld.is_enum:
        return "." + escape(swift_case_name(fld.target, fld.target.values[0].name))  # type: ignore[union-attr]
    return SCALAR_DEFAULTS[fld.type_name]


# --------------------------------------------------------------------------------------------------
# Emitter 1: Sources/BillingAPI/<flat>.pb.swift
# --------------------------------------------------------------------------------------------------


def emit_api(proto: ProtoFile, declares_namespace: bool) -> str:
    namespace = swift_namespace(proto.package)
    lines = header(proto) + ["", "import BillingProtos", "import BillingWire", ""]
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
    for message in all_messages(proto):
        lines += emit_message_mapping(message) + [""]
    if any(not is_top_level(message) for message in all_messages(proto)):
        lines += NESTED_UNPACK_HELPERS + [""]
    return "\n".join(lines[:-1]) + "\n"


# protoc-c writes `…__unpack` and `…__free_unpacked` for top-level messages only. A nested message decodes
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
    "",
    "/// Frees what `unpackNested` decoded.",
    "private func freeNested<M>(_ message: UnsafeMutablePointer<M>?, _ allocator: UnsafeMutablePointer<ProtobufCAllocator>?) {",
    f"{INDENT}guard let message else {{ return }}",
    f"{INDENT}protobuf_c_message_free_unpacked(UnsafeMutableRawPointer(message).assumingMemoryBound(to: ProtobufCMessage.self), allocator)",
    "}",
]


def emit_message(message: Message, indent: str) -> list[str]:
    inner = indent + INDENT
    lines = doc_lines(message.doc, indent)
    lines.append(f"{indent}public struct {message.name}: WireMessage, Hashable, Sendable {{")
    for nested in message.nested_order:
        lines += (emit_message(nested, inner) if isinstance(nested, Message) else emit_enum(nested, inner)) + [""]
    for fld in message.fields:
        lines += doc_lines(fld.doc, inner)
        lines.append(f"{inner}public var {escape(swift_field_name(fld.name))}: {field_swift_type(fld)}")
    if message.fields:
        lines.append("")

    # Memberwise, every argument defaulted: callers name only what they set, as in proto3.
    parameters = [f"{escape(swift_field_name(f.name))}: {field_swift_type(f)} = {field_default(f)}"
                  for f in message.fields]
    if parameters:
        lines += call("public init", parameters, " {", inner)
        for fld in message.fields:
            name = escape(swift_field_name(fld.name))
            lines.append(f"{inner}{INDENT}self.{name} = {name}")
        lines.append(f"{inner}}}")
    else:
        lines.append(f"{inner}public init() {{}}")
    lines.append("")

    prefix = c_function_prefix(message)
    if is_top_level(message):
        unpack, free = f"{prefix}__unpack", f"{prefix}__free_unpacked"
    else:
        unpack, free = f"unpackNested(initializedBy: {prefix}__init)", "freeNested"
    lines += [
        f"{inner}public init(wireBytes: [UInt8]) throws(RPCError) {{",
        f"{inner}{INDENT}self = try unpackProtobufC(",
        f"{inner}{INDENT}{INDENT}wireBytes, as: \"{'.'.join(message.path)}\", unpack: {unpack},",
        f"{inner}{INDENT}{INDENT}free: {free}",
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


def read_expression(fld: Field) -> tuple[str, bool]:
    """How init(c:) reads one field out of the C struct `c`; and whether that can throw."""
    member = f"c.{c_field(fld)}"
    count = f"c.n_{c_field(fld).strip('`')}"
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
        return f"{swift_type(fld.target)}(cPointer: {member})", True  # type: ignore[arg-type]
    if fld.is_enum:
        return f"{swift_type(fld.target)}(c: {member})", False  # type: ignore[arg-type]
    return {
        "string": (f"ProtobufCField.string({member})", False),
        "bytes": (f"ProtobufCField.bytes({member})", False),
        "bool": (f"{member} != 0", False),  # protobuf_c_boolean is a C int
    }.get(fld.type_name, (member, False))


def write_statements(fld: Field) -> list[str]:
    """How cStruct(in:) stores one field into the C struct `c`, allocating in `arena`."""
    target = f"c.pointee.{c_field(fld)}"
    value = f"self.{escape(swift_field_name(fld.name))}"
    if fld.repeated:
        if fld.is_message:
            elements = f"{value}.map {{ Optional($0.cStruct(in: arena)) }}"
        elif fld.is_enum:
            elements = f"{value}.map(\\.cValue)"
        else:
            elements = {
                "string": f"{value}.map {{ Optional(arena.string($0)) }}",
                "bytes": f"{value}.map {{ arena.bytes($0) }}",
                "bool": f"{value}.map {{ (flag) -> protobuf_c_boolean in flag ? 1 : 0 }}",
            }.get(fld.type_name, value)
        return [f"c.pointee.n_{c_field(fld).strip('`')} = {value}.count", f"{target} = arena.array({elements})"]
    if fld.is_message:
        return [f"{target} = {value}?.cStruct(in: arena)"]
    if fld.is_enum:
        return [f"{target} = {value}.cValue"]
    return [{
        "string": f"{target} = arena.string({value})",
        "bytes": f"{target} = arena.bytes({value})",
        "bool": f"{target} = {value} ? 1 : 0",
    }.get(fld.type_name, f"{target} = {value}")]


def emit_message_mapping(message: Message) -> list[str]:
    c_struct = c_type(message)
    reads = [(f"{label(swift_field_name(f.name))}: {expr}", throws)
             for f in message.fields for expr, throws in [read_expression(f)]]
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
    for fld in message.fields:
        lines += [f"{INDENT * 2}{statement}" for statement in write_statements(fld)]
    lines += [f"{INDENT * 2}return c", f"{INDENT}}}", "}"]
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

API_DIR = "Sources/BillingAPI"
CLIENT_DIR = "clients/swift/BillingClient/Generated"
SERVER_DIR = "Sources/BillingService/Generated"
GENERATED_DIRS = (API_DIR, CLIENT_DIR, SERVER_DIR)


def generate(proto_dir: str, out_root: str) -> dict[str, str]:
    """Relative output path -> file contents."""
    paths = []
    for directory, _, names in os.walk(proto_dir):
        for name in names:
            if name.endswith(".proto"):
                relative = os.path.relpath(os.path.join(directory, name), proto_dir).replace(os.sep, "/")
                if relative not in SKIPPED_PROTOS:
                    paths.append(relative)
    files = []
    for relative in sorted(paths):
        with open(os.path.join(proto_dir, relative), encoding="utf-8") as handle:
            files.append(Parser(relative, handle.read()).parse_file())
    resolve(files)
    check(files)
    verify_c_names(files, os.path.join(out_root, "Sources/BillingProtos/include"))

    outputs: dict[str, str] = {}
    namespaces_declared: set[str] = set()
    for proto in files:
        # Files of one package share the namespace; only the first (in path order) declares it.
        outputs[f"{API_DIR}/{proto.flat_name}.pb.swift"] = emit_api(proto, proto.package not in namespaces_declared)
        namespaces_declared.add(proto.package)
    for proto in stub_files(files):
        outputs[f"{CLIENT_DIR}/{proto.flat_name}+Client.swift"] = emit_client(proto)
        outputs[f"{SERVER_DIR}/{proto.flat_name}+Server.swift"] = emit_server(proto)
    return outputs


def write(outputs: dict[str, str], out_root: str) -> None:
    """Replaces the generated folders' contents with `outputs`; files whose bytes are unchanged are left
    alone so that their timestamps (and incremental builds) survive a regeneration."""
    for directory in GENERATED_DIRS:
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
    arguments.add_argument("--proto-dir", default=here, help="the directory of .proto files (default: proto/)")
    arguments.add_argument("--out-root", default=os.path.dirname(here),
                           help="where Sources/ and clients/ are (default: the repository root); "
                                "Sources/BillingProtos must already hold protoc-c's output")
    options = arguments.parse_args()
    try:
        write(generate(options.proto_dir, options.out_root), options.out_root)
    except GeneratorError as error:
        print(f"generate_swift.py: error: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
