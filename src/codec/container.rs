//! The self-describing container both snapshot kinds use (the keyspace snapshot file, a script's state
//! snapshot): 8 magic bytes, a little-endian `u32` format version and a codec byte, then the compressed
//! body. The body is a run of frames (`u64` length + payload, each payload one MessagePack record), a zero
//! length, and the CRC-32 of every body byte before it. Records are framed, not concatenated, so a reader
//! can hand each payload out as `Bytes` and values borrow from it without a copy.

use std::io::{self, Read, Write};

use bytes::Bytes;
use thiserror::Error;

use super::{Codec, Encoder};

pub const VERSION: u32 = 1;

/// Refuses a payload length above this (a corrupt length must not allocate terabytes).
const MAX_FRAME: u64 = 1 << 40;

#[derive(Debug, Error)]
pub enum FormatError {
    #[error("{0}")]
    Io(#[from] io::Error),
    #[error("not a tensorcell {0} file (bad magic)")]
    Magic(&'static str),
    #[error("format version {0} is newer than this server's ({VERSION})")]
    Version(u32),
    #[error("unknown codec {0}")]
    Codec(u8),
    #[error("the file ends early")]
    Truncated,
    #[error("checksum mismatch")]
    Checksum,
    #[error("bad record: {0}")]
    Record(String),
}

/// Writes one container.
pub struct Writer<W: Write> {
    enc: Encoder<W>,
    crc: crc32fast::Hasher,
}

impl<W: Write> Writer<W> {
    pub fn new(mut w: W, magic: &[u8; 8], codec: Codec) -> io::Result<Self> {
        w.write_all(magic)?;
        w.write_all(&VERSION.to_le_bytes())?;
        w.write_all(&[codec as u8])?;
        Ok(Writer {
            enc: codec.encoder(w)?,
            crc: crc32fast::Hasher::new(),
        })
    }

    fn put(&mut self, b: &[u8]) -> io::Result<()> {
        self.crc.update(b);
        self.enc.write_all(b)
    }

    /// Appends one record, MessagePack-encoded.
    pub fn record<T: serde::Serialize>(&mut self, rec: &T) -> io::Result<()> {
        let payload = rmp_serde::to_vec(rec).map_err(io::Error::other)?;
        self.put(&(payload.len() as u64).to_le_bytes())?;
        self.put(&payload)
    }

    /// Ends the body (terminator and checksum) and returns the inner writer, not yet flushed to disk.
    pub fn finish(mut self) -> io::Result<W> {
        self.put(&0u64.to_le_bytes())?;
        let sum = std::mem::take(&mut self.crc).finalize();
        self.enc.write_all(&sum.to_le_bytes())?;
        self.enc.finish()
    }
}

/// Reads one container, frame by frame.
pub struct Reader<'a> {
    body: Box<dyn Read + 'a>,
    crc: crc32fast::Hasher,
    pub codec: Codec,
    done: bool,
}

impl<'a> Reader<'a> {
    pub fn open<R: Read + 'a>(
        mut r: R,
        magic: &[u8; 8],
        what: &'static str,
    ) -> Result<Self, FormatError> {
        let mut head = [0u8; 13];
        read_full(&mut r, &mut head)?;
        if &head[..8] != magic {
            return Err(FormatError::Magic(what));
        }
        let version = u32::from_le_bytes([head[8], head[9], head[10], head[11]]);
        if version > VERSION || version == 0 {
            return Err(FormatError::Version(version));
        }
        let codec = Codec::from_byte(head[12]).ok_or(FormatError::Codec(head[12]))?;
        Ok(Reader {
            body: codec.decoder(r)?,
            crc: crc32fast::Hasher::new(),
            codec,
            done: false,
        })
    }

    fn take(&mut self, buf: &mut [u8]) -> Result<(), FormatError> {
        read_full(&mut self.body, buf)?;
        self.crc.update(buf);
        Ok(())
    }

    /// The next record's payload; `None` once the terminator and a matching checksum were read.
    pub fn next_frame(&mut self) -> Result<Option<Bytes>, FormatError> {
        if self.done {
            return Ok(None);
        }
        let mut len = [0u8; 8];
        self.take(&mut len)?;
        let len = u64::from_le_bytes(len);
        if len == 0 {
            self.done = true;
            let expect = std::mem::take(&mut self.crc).finalize();
            let mut sum = [0u8; 4];
            read_full(&mut self.body, &mut sum)?;
            if u32::from_le_bytes(sum) != expect {
                return Err(FormatError::Checksum);
            }
            // The codec's own end (gzip's trailer, zstd's frame end) must be whole too, and nothing follow.
            let mut extra = [0u8; 1];
            return match self.body.read(&mut extra) {
                Ok(0) => Ok(None),
                Ok(_) => Err(FormatError::Record("data after the end".into())),
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Err(FormatError::Truncated),
                Err(e) => Err(FormatError::Io(e)),
            };
        }
        if len > MAX_FRAME {
            return Err(FormatError::Record(format!("frame of {len} bytes")));
        }
        // Grow with the data actually read, so a corrupt length fails on EOF instead of allocating it.
        let mut payload = Vec::with_capacity(len.min(64 << 20) as usize);
        (&mut self.body).take(len).read_to_end(&mut payload)?;
        if payload.len() as u64 != len {
            return Err(FormatError::Truncated);
        }
        self.crc.update(&payload);
        Ok(Some(Bytes::from(payload)))
    }

    /// The next record, decoded from a frame.
    pub fn next_record<T: serde::de::DeserializeOwned>(
        &mut self,
    ) -> Result<Option<T>, FormatError> {
        match self.next_frame()? {
            None => Ok(None),
            Some(p) => decode(&p).map(Some),
        }
    }
}

/// Decodes a record borrowing from `payload`.
pub fn decode<'de, T: serde::Deserialize<'de>>(payload: &'de [u8]) -> Result<T, FormatError> {
    rmp_serde::from_slice(payload).map_err(|e| FormatError::Record(e.to_string()))
}

fn read_full(r: &mut dyn Read, buf: &mut [u8]) -> Result<(), FormatError> {
    r.read_exact(buf).map_err(|e| match e.kind() {
        io::ErrorKind::UnexpectedEof => FormatError::Truncated,
        _ => FormatError::Io(e),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_round_trip_and_damage_is_detected() {
        for codec in Codec::ALL {
            let mut w = Writer::new(Vec::new(), b"TESTMAG1", codec).unwrap();
            w.record(&("a", 1u32)).unwrap();
            w.record(&vec![7u8; 10_000]).unwrap();
            let file = w.finish().unwrap();
            let mut r = Reader::open(&file[..], b"TESTMAG1", "test").unwrap();
            assert_eq!(
                r.next_record::<(String, u32)>().unwrap(),
                Some(("a".into(), 1))
            );
            assert_eq!(r.next_record::<Vec<u8>>().unwrap(), Some(vec![7u8; 10_000]));
            assert!(r.next_frame().unwrap().is_none());

            // Cut short anywhere: an error, never a silent partial read.
            for cut in [13, file.len() / 2, file.len() - 1] {
                let mut r = match Reader::open(&file[..cut], b"TESTMAG1", "test") {
                    Ok(r) => r,
                    Err(_) => continue,
                };
                let mut failed = false;
                for _ in 0..4 {
                    match r.next_frame() {
                        Err(_) => {
                            failed = true;
                            break;
                        }
                        Ok(None) => break,
                        Ok(Some(_)) => {}
                    }
                }
                assert!(failed, "{} cut at {cut} must fail", codec.name());
            }
        }
        // A flipped byte in an uncompressed body is a checksum error.
        let mut w = Writer::new(Vec::new(), b"TESTMAG1", Codec::None).unwrap();
        w.record(&"hello world").unwrap();
        let mut file = w.finish().unwrap();
        file[25] ^= 1;
        let mut r = Reader::open(&file[..], b"TESTMAG1", "test").unwrap();
        let _ = r.next_frame();
        assert!(matches!(r.next_frame(), Err(FormatError::Checksum)));
        assert!(matches!(
            Reader::open(&file[..], b"OTHERMAG", "test"),
            Err(FormatError::Magic(_))
        ));
    }
}
