//! How values are written down, for every front end: compression codecs (here: none, snappy, gzip, bzip2,
//! xz, zstd, the FastScore/Veles set, each a streaming encoder over a `Write` and a decoder over a `Read`, so a
//! gigabyte of tensors is never held twice in memory), the checksummed container (`container`), the versioned
//! record of each keyspace value (`records`), and durable file writes (`file`). The standalone server's
//! snapshot file, AOF and replication, the model-state snapshots and the Redis module's types all use them.

pub mod container;
pub mod file;
pub mod records;

use std::io::{self, Read, Write};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Codec {
    None = 0,
    Snappy = 1,
    Gzip = 2,
    Bzip2 = 3,
    Xz = 4,
    Zstd = 5,
}

impl Codec {
    pub const ALL: [Codec; 6] = [
        Codec::None,
        Codec::Snappy,
        Codec::Gzip,
        Codec::Bzip2,
        Codec::Xz,
        Codec::Zstd,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Codec::None => "none",
            Codec::Snappy => "snappy",
            Codec::Gzip => "gzip",
            Codec::Bzip2 => "bzip2",
            Codec::Xz => "xz",
            Codec::Zstd => "zstd",
        }
    }

    pub fn parse(s: &[u8]) -> Option<Codec> {
        Codec::ALL
            .into_iter()
            .find(|c| c.name().as_bytes().eq_ignore_ascii_case(s))
    }

    pub fn from_byte(b: u8) -> Option<Codec> {
        Codec::ALL.into_iter().find(|c| *c as u8 == b)
    }

    /// A compressing writer over `w`; call [`Encoder::finish`] to end the stream and get `w` back.
    pub fn encoder<W: Write>(self, w: W) -> io::Result<Encoder<W>> {
        // Levels favour speed: snapshots are taken while the server serves, and tensors of floats
        // compress little at any level.
        Ok(match self {
            Codec::None => Encoder::None(w),
            Codec::Snappy => Encoder::Snappy(Box::new(snap::write::FrameEncoder::new(w))),
            Codec::Gzip => Encoder::Gzip(flate2::write::GzEncoder::new(
                w,
                flate2::Compression::fast(),
            )),
            Codec::Bzip2 => {
                Encoder::Bzip2(bzip2::write::BzEncoder::new(w, bzip2::Compression::fast()))
            }
            Codec::Xz => Encoder::Xz(xz2::write::XzEncoder::new(w, 1)),
            Codec::Zstd => Encoder::Zstd(zstd::stream::write::Encoder::new(w, 1)?),
        })
    }

    /// A decompressing reader over `r`.
    pub fn decoder<'a, R: Read + 'a>(self, r: R) -> io::Result<Box<dyn Read + 'a>> {
        Ok(match self {
            Codec::None => Box::new(r),
            Codec::Snappy => Box::new(snap::read::FrameDecoder::new(r)),
            Codec::Gzip => Box::new(flate2::read::GzDecoder::new(r)),
            Codec::Bzip2 => Box::new(bzip2::read::BzDecoder::new(r)),
            Codec::Xz => Box::new(xz2::read::XzDecoder::new(r)),
            Codec::Zstd => Box::new(zstd::stream::read::Decoder::new(r)?),
        })
    }
}

/// A compressing writer (an enum rather than a trait object so `finish` can hand the inner writer back).
pub enum Encoder<W: Write> {
    None(W),
    Snappy(Box<snap::write::FrameEncoder<W>>),
    Gzip(flate2::write::GzEncoder<W>),
    Bzip2(bzip2::write::BzEncoder<W>),
    Xz(xz2::write::XzEncoder<W>),
    Zstd(zstd::stream::write::Encoder<'static, W>),
}

impl<W: Write> Encoder<W> {
    /// Writes the stream's end and returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        match self {
            Encoder::None(w) => Ok(w),
            Encoder::Snappy(e) => e.into_inner().map_err(|e| e.into_error()),
            Encoder::Gzip(e) => e.finish(),
            Encoder::Bzip2(e) => e.finish(),
            Encoder::Xz(e) => e.finish(),
            Encoder::Zstd(e) => e.finish(),
        }
    }

    fn inner(&mut self) -> &mut dyn Write {
        match self {
            Encoder::None(w) => w,
            Encoder::Snappy(e) => e.as_mut(),
            Encoder::Gzip(e) => e,
            Encoder::Bzip2(e) => e,
            Encoder::Xz(e) => e,
            Encoder::Zstd(e) => e,
        }
    }
}

impl<W: Write> Write for Encoder<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner().write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_codec_round_trips_and_names_parse() {
        let data: Vec<u8> = (0..100_000u32)
            .flat_map(|i| (i % 251).to_le_bytes())
            .collect();
        for c in Codec::ALL {
            let mut e = c.encoder(Vec::new()).unwrap();
            e.write_all(&data).unwrap();
            let packed = e.finish().unwrap();
            if c != Codec::None {
                assert!(packed.len() < data.len(), "{} compresses", c.name());
            }
            let mut out = Vec::new();
            c.decoder(&packed[..])
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, data, "{}", c.name());
            assert_eq!(Codec::parse(c.name().to_uppercase().as_bytes()), Some(c));
            assert_eq!(Codec::from_byte(c as u8), Some(c));
        }
        assert_eq!(Codec::parse(b"lz4"), None);
    }
}
