//! The runner protocol's frames (docs/runners.md): `u32` length, `u32` header length, a JSON header, then an
//! inline blob area. Byte strings in headers are JSON strings whose code points 0-255 are the bytes
//! (latin-1), so every language's JSON library can carry them; tensor data is a reference either into the
//! frame's blob area (`{"$blob": [offset, len]}`) or, from [`SHM_MIN`] bytes on, into the runner's
//! shared-memory file (`{"$shm": [offset, len]}`), so big tensors never cross the socket.
//!
//! Requests and replies strictly alternate, so each message lays its shared-memory data out from offset 0:
//! the peer has consumed the previous message's before it sends the next.

use std::fs::File;
use std::os::unix::fs::FileExt;

use bytes::Bytes;
use serde_json::{json, Value};

use crate::tensor::{DType, Tensor};

/// Tensors of at least this many bytes go through shared memory.
pub const SHM_MIN: usize = 4096;

/// Frames larger than this are refused (a runner that sends one is broken) and never sent.
pub const MAX_FRAME: usize = 1 << 31;

/// Most shared-memory bytes one message may reference in all (what the server copies out of it).
pub const MAX_SHM_PER_MESSAGE: u64 = 1 << 32;

/// A byte string as the protocol's JSON string (latin-1 code points).
pub fn bstr(b: &[u8]) -> Value {
    Value::String(b.iter().map(|&c| c as char).collect())
}

/// The bytes of a protocol byte string; `None` when it is not one (a code point above 255).
pub fn sbytes(v: &Value) -> Option<Vec<u8>> {
    let s = v.as_str()?;
    s.chars().map(|c| u8::try_from(u32::from(c)).ok()).collect()
}

/// A message being built: its header (JSON written as fields are added, no map in between) and its blob
/// area.
pub struct Out<'a> {
    header: Vec<u8>,
    inline: Vec<u8>,
    shm: &'a File,
    shm_at: u64,
}

impl<'a> Out<'a> {
    pub fn new(op: &str, shm: &'a File) -> Out<'a> {
        let mut header = Vec::with_capacity(256);
        header.extend_from_slice(b"{\"op\":");
        serde_json::to_writer(&mut header, op).expect("JSON of a string");
        Out {
            header,
            inline: Vec::new(),
            shm,
            shm_at: 0,
        }
    }

    fn key(&mut self, field: &str) {
        self.header.push(b',');
        serde_json::to_writer(&mut self.header, field).expect("JSON of a string");
        self.header.push(b':');
    }

    pub fn set(&mut self, field: &str, v: Value) -> &mut Self {
        self.key(field);
        serde_json::to_writer(&mut self.header, &v).expect("JSON of a value");
        self
    }

    /// A list of byte strings (keys, arguments, records) as protocol strings.
    pub fn set_bytes<'b>(
        &mut self,
        field: &str,
        items: impl Iterator<Item = &'b [u8]>,
    ) -> &mut Self {
        self.key(field);
        self.header.push(b'[');
        let mut text = String::new();
        for (i, b) in items.enumerate() {
            if i > 0 {
                self.header.push(b',');
            }
            text.clear();
            text.extend(b.iter().map(|&c| c as char));
            serde_json::to_writer(&mut self.header, &text).expect("JSON of a string");
        }
        self.header.push(b']');
        self
    }

    /// A blob reference for `data`, in the shared-memory file when it is big.
    pub fn blob(&mut self, data: &[u8]) -> std::io::Result<Value> {
        let (kind, at) = self.place(data)?;
        Ok(json!({kind: [at, data.len()]}))
    }

    fn place(&mut self, data: &[u8]) -> std::io::Result<(&'static str, u64)> {
        if data.len() >= SHM_MIN {
            let at = self.shm_at;
            self.shm.write_all_at(data, at)?;
            self.shm_at += data.len() as u64;
            return Ok(("$shm", at));
        }
        let at = self.inline.len() as u64;
        self.inline.extend_from_slice(data);
        Ok(("$blob", at))
    }

    /// A list of tensors, their data placed as [`Out::blob`] places it.
    pub fn set_tensors<'t>(
        &mut self,
        field: &str,
        tensors: impl Iterator<Item = &'t Tensor>,
    ) -> std::io::Result<&mut Self> {
        use std::io::Write;
        self.key(field);
        self.header.push(b'[');
        for (i, t) in tensors.enumerate() {
            let (kind, at) = self.place(&t.data)?;
            if i > 0 {
                self.header.push(b',');
            }
            write!(
                self.header,
                "{{\"dtype\":\"{}\",\"shape\":[",
                t.dtype.name()
            )?;
            for (j, d) in t.shape.iter().enumerate() {
                if j > 0 {
                    self.header.push(b',');
                }
                write!(self.header, "{d}")?;
            }
            write!(
                self.header,
                "],\"data\":{{\"{kind}\":[{at},{}]}}}}",
                t.data.len()
            )?;
        }
        self.header.push(b']');
        Ok(self)
    }

    /// The frame's size so far.
    pub fn size(&self) -> usize {
        9 + self.header.len() + self.inline.len()
    }

    /// The frame's bytes. One past [`MAX_FRAME`] (a callback's answer holding a huge reply) becomes an error
    /// answer instead: its length must fit the frame's `u32`.
    pub fn frame(mut self) -> Vec<u8> {
        if self.size() > MAX_FRAME {
            self.header.clear();
            self.header.extend_from_slice(
                br#"{"op":"error","message":"the answer is too large for the runner protocol (2 GiB)""#,
            );
            self.inline.clear();
        }
        self.header.push(b'}');
        let mut f = Vec::with_capacity(8 + self.header.len() + self.inline.len());
        let body = 4 + self.header.len() + self.inline.len();
        f.extend_from_slice(&(body as u32).to_le_bytes());
        f.extend_from_slice(&(self.header.len() as u32).to_le_bytes());
        f.extend_from_slice(&self.header);
        f.extend_from_slice(&self.inline);
        f
    }
}

/// A message received: its header and blob area.
pub struct In {
    pub header: Value,
    pub blobs: Bytes,
}

impl In {
    pub fn op(&self) -> &str {
        self.header["op"].as_str().unwrap_or("")
    }

    pub fn str(&self, field: &str) -> &str {
        self.header[field].as_str().unwrap_or("")
    }

    /// A byte-string field (missing or malformed: an error naming it).
    pub fn bytes(&self, field: &str) -> Result<Vec<u8>, String> {
        sbytes(&self.header[field]).ok_or_else(|| format!("runner message: bad field {field}"))
    }

    /// A byte-string field that may be null.
    pub fn opt_bytes(&self, field: &str) -> Result<Option<Vec<u8>>, String> {
        match &self.header[field] {
            Value::Null => Ok(None),
            _ => self.bytes(field).map(Some),
        }
    }

    /// The data a blob reference points at.
    pub fn blob(&self, r: &Value, shm: &File) -> Result<Bytes, String> {
        let pair = |v: &Value| -> Option<(u64, usize)> {
            let a = v.as_array()?;
            Some((a.first()?.as_u64()?, a.get(1)?.as_u64()? as usize))
        };
        if let Some((at, n)) = r.get("$shm").and_then(pair) {
            // The runner says where and how much: never more than the file holds.
            let size = shm.metadata().map(|m| m.len()).unwrap_or(0);
            if n > MAX_FRAME || at.saturating_add(n as u64) > size {
                return Err("runner message: shared-memory reference past the file's end".into());
            }
            let mut data = vec![0; n];
            shm.read_exact_at(&mut data, at)
                .map_err(|e| format!("runner shared memory: {e}"))?;
            return Ok(Bytes::from(data));
        }
        match r.get("$blob").and_then(pair) {
            Some((at, n)) if (at as usize).saturating_add(n) <= self.blobs.len() => {
                Ok(self.blobs.slice(at as usize..at as usize + n))
            }
            _ => Err("runner message: bad blob reference".into()),
        }
    }

    /// The tensors of a `tensors` field, checked as TENSORSET checks its input.
    pub fn tensors(&self, shm: &File) -> Result<Vec<Tensor>, String> {
        let Some(items) = self.header["tensors"].as_array() else {
            return Ok(Vec::new());
        };
        // Each reference is checked against the file, and all of them together too: a runner must not make
        // the server copy the same region a thousand times.
        let size = shm.metadata().map(|m| m.len()).unwrap_or(0);
        let total: u64 = items
            .iter()
            .filter_map(|t| t["data"].get("$shm")?.get(1)?.as_u64())
            .sum();
        if total > size.min(MAX_SHM_PER_MESSAGE) {
            return Err("runner message: shared-memory references exceed the file".into());
        }
        items
            .iter()
            .map(|t| {
                let dtype = t["dtype"]
                    .as_str()
                    .and_then(|d| DType::parse(d.as_bytes()))
                    .ok_or("runner message: bad tensor dtype")?;
                let shape: Vec<usize> = t["shape"]
                    .as_array()
                    .ok_or("runner message: bad tensor shape")?
                    .iter()
                    .map(|d| d.as_u64().map(|d| d as usize))
                    .collect::<Option<_>>()
                    .ok_or("runner message: bad tensor shape")?;
                let data = self.blob(&t["data"], shm)?;
                let n = shape
                    .iter()
                    .try_fold(1usize, |a, &d| a.checked_mul(d))
                    .ok_or("runner message: bad tensor shape")?;
                if n > 0 || !data.is_empty() {
                    crate::tensor::check_blob(dtype, n, &data).map_err(|e| e.line())?;
                }
                Ok(Tensor { dtype, shape, data })
            })
            .collect()
    }
}

/// Splits one whole frame off the front of `buf`, if it holds one.
pub fn take_frame(buf: &mut Vec<u8>) -> Result<Option<In>, String> {
    if buf.len() < 8 {
        return Ok(None);
    }
    let body = u32::from_le_bytes(buf[0..4].try_into().expect("4 bytes")) as usize;
    let hlen = u32::from_le_bytes(buf[4..8].try_into().expect("4 bytes")) as usize;
    if body < 4 || hlen > body - 4 || body > MAX_FRAME {
        return Err("runner sent a malformed frame".into());
    }
    if buf.len() < 4 + body {
        return Ok(None);
    }
    let rest = buf.split_off(4 + body);
    let frame = std::mem::replace(buf, rest);
    let header: Value = serde_json::from_slice(&frame[8..8 + hlen])
        .map_err(|e| format!("runner sent a malformed header: {e}"))?;
    let blobs = Bytes::from(frame).slice(8 + hlen..);
    Ok(Some(In { header, blobs }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_strings_round_trip() {
        let raw: Vec<u8> = (0..=255).collect();
        assert_eq!(sbytes(&bstr(&raw)).unwrap(), raw);
        assert_eq!(sbytes(&json!("\u{263a}")), None);
    }

    #[test]
    fn frames_round_trip_with_inline_and_shared_data() {
        let shm = tempfile_shm();
        let small = Tensor {
            dtype: DType::Float,
            shape: vec![2],
            data: Bytes::from_static(&[0, 0, 128, 63, 0, 0, 0, 64]),
        };
        let big = Tensor {
            dtype: DType::Uint8,
            shape: vec![SHM_MIN],
            data: Bytes::from(vec![7u8; SHM_MIN]),
        };
        let mut out = Out::new("result", &shm);
        out.set_tensors("tensors", [&small, &big].into_iter())
            .unwrap()
            .set_bytes("keys", [&b"k\xff"[..]].into_iter());
        let mut buf = out.frame();
        let tail = buf.len();
        buf.extend_from_slice(&[1, 2, 3]);
        let got = take_frame(&mut buf).unwrap().unwrap();
        assert_eq!(
            buf,
            [1, 2, 3],
            "only the first frame was taken ({tail} bytes)"
        );
        assert_eq!(got.op(), "result");
        assert!(got.header["tensors"][1]["data"].get("$shm").is_some());
        assert_eq!(sbytes(&got.header["keys"][0]).unwrap(), b"k\xff");
        let back = got.tensors(&shm).unwrap();
        assert_eq!(back[0].data, small.data);
        assert_eq!(back[1].data, big.data);
        let mut partial = vec![9, 0, 0, 0, 5];
        assert!(take_frame(&mut partial).unwrap().is_none());
        let mut bad = vec![9, 0, 0, 0, 200, 0, 0, 0, 0, 0, 0, 0, 0];
        assert!(take_frame(&mut bad).is_err());
    }

    fn tempfile_shm() -> File {
        let fd = nix::sys::memfd::memfd_create(c"test", nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .expect("memfd");
        File::from(fd)
    }
}
