use proptest::prelude::*;

use super::write::Writer;
use super::{Protocol, Reader, Type};

const BOTH: [Protocol; 2] = [Protocol::Binary, Protocol::Compact];

/// One struct with a field of every type (and ids whose compact deltas need the long form),
/// written and read back.
#[test]
fn every_type_round_trips_in_both_protocols() {
    for p in BOTH {
        let mut w = Writer::new(p);
        w.struct_begin();
        w.bool_field(1, true);
        w.bool_field(2, false);
        w.i16_field(3, -300);
        w.i32_field(4, i32::MIN);
        w.i64_field(40, i64::MAX);
        w.double_field(-2, 1.5);
        w.bytes_field(7, b"\x00\xffhi");
        w.field(Type::List, 8);
        w.list_begin(Type::I64, 20);
        for i in 0..20 {
            w.i64(i - 10);
        }
        w.struct_end();
        let mut r = Reader::new(&w.out, p);
        r.struct_begin().unwrap();
        let mut seen = Vec::new();
        while let Some((t, id)) = r.field_begin().unwrap() {
            seen.push(id);
            match (id, t) {
                (1, Type::Bool) => assert!(r.bool().unwrap()),
                (2, Type::Bool) => assert!(!r.bool().unwrap()),
                (3, Type::I16) => assert_eq!(r.i16().unwrap(), -300),
                (4, Type::I32) => assert_eq!(r.i32().unwrap(), i32::MIN),
                (40, Type::I64) => assert_eq!(r.i64().unwrap(), i64::MAX),
                (-2, Type::Double) => assert_eq!(r.double().unwrap(), 1.5),
                (7, Type::Binary) => assert_eq!(r.bytes().unwrap(), b"\x00\xffhi"),
                (8, Type::List) => {
                    let (t, n) = r.list_begin().unwrap();
                    assert_eq!((t, n), (Type::I64, 20));
                    let got: Vec<i64> = (0..n).map(|_| r.i64().unwrap()).collect();
                    assert_eq!(got, (-10..10).collect::<Vec<_>>());
                    r.list_end();
                }
                other => panic!("{p:?}: unexpected field {other:?}"),
            }
        }
        r.struct_end();
        assert_eq!(seen, [1, 2, 3, 4, 40, -2, 7, 8], "{p:?}");
        assert_eq!(r.remaining(), 0, "{p:?}");
    }
}

#[test]
fn messages_round_trip() {
    for p in BOTH {
        let mut w = Writer::new(p);
        w.message_begin("emitBatch", 4, 7);
        let mut r = Reader::new(&w.out, p);
        let h = r.message_begin().unwrap();
        assert_eq!((h.name.as_str(), h.kind, h.seq_id), ("emitBatch", 4, 7));
    }
}

#[test]
fn declared_lengths_past_the_input_are_refused_before_allocating() {
    let mut b = vec![0x7f, 0xff, 0xff, 0xff];
    b.extend_from_slice(b"abc");
    let e = Reader::new(&b, Protocol::Binary).bytes().unwrap_err();
    assert!(e.to_string().contains("declared length 2147483647"), "{e}");
    let e = Reader::new(&[15, 0, 0, 0, 100], Protocol::Binary)
        .list_begin()
        .unwrap_err();
    assert!(e.to_string().contains("declared list size 100"), "{e}");
    let e = Reader::new(&[0xf9, 0xff, 0xff, 0xff, 0x0f], Protocol::Compact)
        .list_begin()
        .unwrap_err();
    assert!(e.to_string().contains("declared list size 33554431"), "{e}");
}

#[test]
fn compact_varints_and_doubles() {
    let mut r = Reader::new(
        &[0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01],
        Protocol::Compact,
    );
    assert_eq!(r.i64().unwrap(), i64::MIN);
    let mut r = Reader::new(&[0xff; 11], Protocol::Compact);
    assert!(r.i64().is_err());
    let mut r = Reader::new(&[0x80, 0x80, 0x80, 0x80, 0x10], Protocol::Compact);
    assert!(
        r.i32()
            .unwrap_err()
            .to_string()
            .contains("i32 out of range")
    );
}

proptest! {
    /// Skipping any bytes as any type ends in a value or an error, never a panic.
    #[test]
    fn skipping_arbitrary_bytes_never_panics(
        data in proptest::collection::vec(any::<u8>(), 0..256),
        compact in any::<bool>(),
    ) {
        let p = if compact { Protocol::Compact } else { Protocol::Binary };
        for t in [Type::Struct, Type::List, Type::Map, Type::Binary] {
            let _ = Reader::new(&data, p).skip(t);
        }
    }
}
