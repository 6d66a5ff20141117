#!/usr/bin/env python3
"""Decodes a gzipped pprof profile with Google's protobuf runtime, not with ferrotel's own
definition: the message descriptors below are built here from the public schema
(github.com/google/pprof, proto/profile.proto, package perftools.profiles: field names, numbers
and types transcribed by hand). A field ferrotel wrote under a wrong number or wire type shows
up as an unknown field, which fails the check.

Usage: decode_profile.py FILE. Prints a JSON summary; exit 1 on a malformed profile, 3 when
the protobuf package is missing.
"""
import gzip
import json
import sys

try:
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from google.protobuf.unknown_fields import UnknownFieldSet
except ImportError as e:  # the interop requirements are not installed
    print(e, file=sys.stderr)
    sys.exit(3)

F = descriptor_pb2.FieldDescriptorProto
INT64, UINT64, STRING, BOOL, MESSAGE = F.TYPE_INT64, F.TYPE_UINT64, F.TYPE_STRING, F.TYPE_BOOL, F.TYPE_MESSAGE
ONE, MANY = F.LABEL_OPTIONAL, F.LABEL_REPEATED

# message -> [(field, number, type, label, message type)]
SCHEMA = {
    "Profile": [
        ("sample_type", 1, MESSAGE, MANY, "ValueType"),
        ("sample", 2, MESSAGE, MANY, "Sample"),
        ("mapping", 3, MESSAGE, MANY, "Mapping"),
        ("location", 4, MESSAGE, MANY, "Location"),
        ("function", 5, MESSAGE, MANY, "Function"),
        ("string_table", 6, STRING, MANY, None),
        ("drop_frames", 7, INT64, ONE, None),
        ("keep_frames", 8, INT64, ONE, None),
        ("time_nanos", 9, INT64, ONE, None),
        ("duration_nanos", 10, INT64, ONE, None),
        ("period_type", 11, MESSAGE, ONE, "ValueType"),
        ("period", 12, INT64, ONE, None),
        ("comment", 13, INT64, MANY, None),
        ("default_sample_type", 14, INT64, ONE, None),
    ],
    "ValueType": [("type", 1, INT64, ONE, None), ("unit", 2, INT64, ONE, None)],
    "Sample": [
        ("location_id", 1, UINT64, MANY, None),
        ("value", 2, INT64, MANY, None),
        ("label", 3, MESSAGE, MANY, "Label"),
    ],
    "Label": [
        ("key", 1, INT64, ONE, None),
        ("str", 2, INT64, ONE, None),
        ("num", 3, INT64, ONE, None),
        ("num_unit", 4, INT64, ONE, None),
    ],
    "Mapping": [
        ("id", 1, UINT64, ONE, None),
        ("memory_start", 2, UINT64, ONE, None),
        ("memory_limit", 3, UINT64, ONE, None),
        ("file_offset", 4, UINT64, ONE, None),
        ("filename", 5, INT64, ONE, None),
        ("build_id", 6, INT64, ONE, None),
        ("has_functions", 7, BOOL, ONE, None),
        ("has_filenames", 8, BOOL, ONE, None),
        ("has_line_numbers", 9, BOOL, ONE, None),
        ("has_inline_frames", 10, BOOL, ONE, None),
    ],
    "Location": [
        ("id", 1, UINT64, ONE, None),
        ("mapping_id", 2, UINT64, ONE, None),
        ("address", 3, UINT64, ONE, None),
        ("line", 4, MESSAGE, MANY, "Line"),
        ("is_folded", 5, BOOL, ONE, None),
    ],
    "Line": [("function_id", 1, UINT64, ONE, None), ("line", 2, INT64, ONE, None)],
    "Function": [
        ("id", 1, UINT64, ONE, None),
        ("name", 2, INT64, ONE, None),
        ("system_name", 3, INT64, ONE, None),
        ("filename", 4, INT64, ONE, None),
        ("start_line", 5, INT64, ONE, None),
    ],
}


def profile_class():
    f = descriptor_pb2.FileDescriptorProto(
        name="perftools/profile.proto", package="perftools.profiles", syntax="proto3"
    )
    for name, fields in SCHEMA.items():
        m = f.message_type.add(name=name)
        for field, number, typ, label, msg in fields:
            d = m.field.add(name=field, number=number, type=typ, label=label)
            if msg:
                d.type_name = ".perftools.profiles." + msg
    pool = descriptor_pool.DescriptorPool()
    pool.Add(f)
    return message_factory.GetMessageClass(pool.FindMessageTypeByName("perftools.profiles.Profile"))


def unknown(msg):
    return len(UnknownFieldSet(msg))


def main():
    raw = open(sys.argv[1], "rb").read()
    if raw[:2] != b"\x1f\x8b":
        sys.exit("not gzip")
    p = profile_class()()
    p.ParseFromString(gzip.decompress(raw))
    strings = list(p.string_table)
    nested = [*p.sample_type, *p.sample, *p.location, *p.function, *p.mapping]
    nested += [line for loc in p.location for line in loc.line]
    problems = []
    if unknown(p) or any(unknown(m) for m in nested):
        problems.append("fields outside the pprof schema")
    if not strings or strings[0] != "":
        problems.append("string_table[0] is not empty")
    functions = {f.id: f for f in p.function}
    locations = {loc.id: loc for loc in p.location}
    for s in p.sample:
        if len(s.value) != len(p.sample_type):
            problems.append("a sample's values do not match sample_type")
        if any(i not in locations for i in s.location_id):
            problems.append("a sample names an unknown location")
    for loc in p.location:
        if any(line.function_id not in functions for line in loc.line):
            problems.append("a location names an unknown function")
    s = lambda i: strings[i] if 0 <= i < len(strings) else None
    print(
        json.dumps(
            {
                "problems": sorted(set(problems)),
                "sample_type": [[s(t.type), s(t.unit)] for t in p.sample_type],
                "period_type": [s(p.period_type.type), s(p.period_type.unit)],
                "period": p.period,
                "duration_nanos": p.duration_nanos,
                "samples": len(p.sample),
                "sample_value_sums": [sum(x.value[i] for x in p.sample) for i in range(len(p.sample_type))],
                "functions": sorted({s(f.name) or "" for f in p.function}),
            }
        )
    )


main()
