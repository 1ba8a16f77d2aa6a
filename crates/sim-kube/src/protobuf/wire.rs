//! The Protocol Buffers wire format: varints, tags and length-delimited fields, read and
//! written by hand.

/// Wire type of varint fields (integers, booleans).
pub const VARINT: u8 = 0;
/// Wire type of 64-bit fixed fields (doubles).
pub const FIXED64: u8 = 1;
/// Wire type of length-delimited fields (strings, bytes, messages, packed repeats).
pub const LEN: u8 = 2;
/// Wire type of 32-bit fixed fields.
pub const FIXED32: u8 = 5;

/// A field as read off the wire: its number and its value.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum WireValue<'a> {
    /// A varint.
    Varint(u64),
    /// Eight fixed bytes (little endian).
    Fixed64(u64),
    /// Length-delimited bytes.
    Bytes(&'a [u8]),
    /// Four fixed bytes (little endian).
    Fixed32(u32),
}

/// Reads the fields of one message, in order.
pub struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    /// A reader of the message `buf`.
    pub fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// The next field (number and value), `Ok(None)` at the end, an error on malformed bytes.
    pub fn next_field(&mut self) -> Result<Option<(u32, WireValue<'a>)>, String> {
        if self.pos >= self.buf.len() {
            return Ok(None);
        }
        let key = self.varint()?;
        let number = u32::try_from(key >> 3).map_err(|_| "field number out of range")?;
        if number == 0 {
            return Err("field number 0".into());
        }
        let value = match (key & 7) as u8 {
            VARINT => WireValue::Varint(self.varint()?),
            FIXED64 => WireValue::Fixed64(u64::from_le_bytes(self.take(8)?.try_into().unwrap())),
            LEN => {
                let len = usize::try_from(self.varint()?).map_err(|_| "length out of range")?;
                WireValue::Bytes(self.take(len)?)
            }
            FIXED32 => WireValue::Fixed32(u32::from_le_bytes(self.take(4)?.try_into().unwrap())),
            other => return Err(format!("unsupported wire type {other}")),
        };
        Ok(Some((number, value)))
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|end| *end <= self.buf.len())
            .ok_or("truncated message")?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    fn varint(&mut self) -> Result<u64, String> {
        let mut value = 0u64;
        for shift in (0..64).step_by(7) {
            let byte = *self.buf.get(self.pos).ok_or("truncated varint")?;
            self.pos += 1;
            value |= u64::from(byte & 0x7f) << shift;
            if byte < 0x80 {
                return Ok(value);
            }
        }
        Err("varint longer than ten bytes".into())
    }
}

/// Builds one message, field after field.
#[derive(Default)]
pub struct Writer {
    buf: Vec<u8>,
}

impl Writer {
    /// An empty message.
    pub fn new() -> Self {
        Self::default()
    }

    /// The bytes written.
    pub fn finish(self) -> Vec<u8> {
        self.buf
    }

    fn key(&mut self, number: u32, wire_type: u8) {
        self.raw_varint((u64::from(number) << 3) | u64::from(wire_type));
    }

    fn raw_varint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    /// A varint field (negative integers take ten bytes, as in Go).
    pub fn varint(&mut self, number: u32, v: u64) {
        self.key(number, VARINT);
        self.raw_varint(v);
    }

    /// A length-delimited field.
    pub fn bytes(&mut self, number: u32, v: &[u8]) {
        self.key(number, LEN);
        self.raw_varint(v.len() as u64);
        self.buf.extend_from_slice(v);
    }

    /// A double field.
    pub fn double(&mut self, number: u32, v: f64) {
        self.key(number, FIXED64);
        self.buf.extend_from_slice(&v.to_le_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_and_lengths_round_trip() {
        let mut w = Writer::new();
        w.varint(1, 300);
        w.varint(2, (-1i64) as u64);
        w.bytes(3, b"abc");
        w.double(4, 1.5);
        let bytes = w.finish();
        assert_eq!(&bytes[..3], &[0x08, 0xac, 0x02]);
        let mut r = Reader::new(&bytes);
        assert_eq!(r.next_field().unwrap(), Some((1, WireValue::Varint(300))));
        assert_eq!(
            r.next_field().unwrap(),
            Some((2, WireValue::Varint(u64::MAX)))
        );
        assert_eq!(r.next_field().unwrap(), Some((3, WireValue::Bytes(b"abc"))));
        assert_eq!(
            r.next_field().unwrap(),
            Some((4, WireValue::Fixed64(1.5f64.to_bits())))
        );
        assert_eq!(r.next_field().unwrap(), None);
    }

    #[test]
    fn truncated_input_is_an_error() {
        assert!(Reader::new(&[0x0a, 0x05, b'a']).next_field().is_err());
        assert!(Reader::new(&[0x08, 0xff]).next_field().is_err());
        assert!(Reader::new(&[0x0b]).next_field().is_err());
    }
}
