//! Byte-level encoding shared by WAL records and checkpoints: unsigned and
//! zig-zag varints and length-prefixed byte strings.
//!
//! Used only inside `wal/`; every reader call checks bounds and fails with
//! [`WalError::Corrupt`] instead of panicking on damaged input.

use super::WalError;

#[derive(Default)]
pub struct Writer {
    pub buf: Vec<u8>,
}

impl Writer {
    pub fn with_capacity(n: usize) -> Writer {
        Writer { buf: Vec::with_capacity(n) }
    }

    pub fn uvarint(&mut self, mut v: u64) {
        while v >= 0x80 {
            self.buf.push((v as u8) | 0x80);
            v >>= 7;
        }
        self.buf.push(v as u8);
    }

    pub fn varint(&mut self, v: i64) {
        self.uvarint(((v << 1) ^ (v >> 63)) as u64);
    }

    pub fn bytes(&mut self, b: &[u8]) {
        self.uvarint(b.len() as u64);
        self.buf.extend_from_slice(b);
    }

    pub fn str(&mut self, s: &str) {
        self.bytes(s.as_bytes());
    }

    pub fn pairs(&mut self, pairs: &[(String, String)]) {
        self.uvarint(pairs.len() as u64);
        for (n, v) in pairs {
            self.str(n);
            self.str(v);
        }
    }
}

pub struct Reader<'a> {
    buf: &'a [u8],
    pub pos: usize,
}

fn corrupt(what: &'static str) -> WalError {
    WalError::Corrupt(what)
}

impl<'a> Reader<'a> {
    pub fn new(buf: &'a [u8]) -> Reader<'a> {
        Reader { buf, pos: 0 }
    }

    pub fn is_empty(&self) -> bool {
        self.pos >= self.buf.len()
    }

    pub fn byte(&mut self) -> Result<u8, WalError> {
        let b = *self.buf.get(self.pos).ok_or_else(|| corrupt("byte past end"))?;
        self.pos += 1;
        Ok(b)
    }

    pub fn uvarint(&mut self) -> Result<u64, WalError> {
        let mut v: u64 = 0;
        for shift in (0..64).step_by(7) {
            let b = *self.buf.get(self.pos).ok_or_else(|| corrupt("varint past end"))?;
            self.pos += 1;
            v |= u64::from(b & 0x7f) << shift;
            if b < 0x80 {
                return Ok(v);
            }
        }
        Err(corrupt("varint too long"))
    }

    pub fn varint(&mut self) -> Result<i64, WalError> {
        let u = self.uvarint()?;
        Ok(((u >> 1) as i64) ^ -((u & 1) as i64))
    }

    /// A count that must fit in the remaining input (each item takes at least a byte).
    pub fn count(&mut self) -> Result<usize, WalError> {
        let n = self.uvarint()?;
        if n > (self.buf.len() - self.pos) as u64 {
            return Err(corrupt("count larger than the record"));
        }
        Ok(n as usize)
    }

    pub fn bytes(&mut self) -> Result<&'a [u8], WalError> {
        let n = self.uvarint()?;
        let end = self.pos.checked_add(n as usize).filter(|e| *e <= self.buf.len());
        let end = end.ok_or_else(|| corrupt("byte string past end"))?;
        let out = &self.buf[self.pos..end];
        self.pos = end;
        Ok(out)
    }

    /// Position and length of the next byte string, for zero-copy slicing.
    pub fn bytes_range(&mut self) -> Result<std::ops::Range<usize>, WalError> {
        let start_len = self.bytes()?.len();
        Ok(self.pos - start_len..self.pos)
    }

    pub fn string(&mut self) -> Result<String, WalError> {
        let b = self.bytes()?;
        String::from_utf8(b.to_vec()).map_err(|_| corrupt("invalid UTF-8"))
    }

    pub fn pairs(&mut self) -> Result<Vec<(String, String)>, WalError> {
        let n = self.count()?;
        let mut out = Vec::with_capacity(n);
        for _ in 0..n {
            out.push((self.string()?, self.string()?));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn varints_round_trip_and_damage_is_an_error() {
        let mut w = Writer::default();
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            w.uvarint(v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            w.varint(v);
        }
        w.str("héllo");
        let mut r = Reader::new(&w.buf);
        for v in [0u64, 1, 127, 128, 300, u64::MAX] {
            assert_eq!(r.uvarint().unwrap(), v);
        }
        for v in [0i64, -1, 1, i64::MIN, i64::MAX] {
            assert_eq!(r.varint().unwrap(), v);
        }
        assert_eq!(r.string().unwrap(), "héllo");
        assert!(r.is_empty());
        assert!(Reader::new(&[0x80, 0x80]).uvarint().is_err());
        assert!(Reader::new(&[5, b'a']).bytes().is_err());
        assert!(Reader::new(&[0xff; 11]).uvarint().is_err());
    }
}
