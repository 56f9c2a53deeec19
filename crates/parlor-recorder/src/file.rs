//! The file edge: [`StreamFile`] writes a [`StreamRecorder`]'s output, and [`repair`]
//! finishes a file whose writer died.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::Path;

use parlor_media::ogg_opus::opus_packet_duration_48k;

use crate::RecorderError;
use crate::ebml::{self, Children, id};
use crate::recorder::{Finished, StreamRecorder};

/// Largest Info or Tracks element [`repair`] reads (they are a few hundred bytes).
const MAX_HEADER_ELEMENT: u64 = 1 << 20;
/// Largest cluster [`repair`] reads.
const MAX_CLUSTER: u64 = 64 << 20;

/// One recording file being written.
///
/// Each [`write_ready`](Self::write_ready) appends whole elements (headers, then whole
/// clusters) and, by default, `fdatasync`s them, so after a crash — even of the machine —
/// the file holds every cluster written so far, and at most a partial last one.
#[derive(Debug)]
pub struct StreamFile {
    file: File,
    buf: Vec<u8>,
    len: u64,
    sync: bool,
}

impl StreamFile {
    /// Creates (or truncates) the file at `path`.
    pub fn create(path: &Path) -> Result<Self, RecorderError> {
        Ok(StreamFile {
            file: File::create(path)?,
            buf: Vec::with_capacity(1 << 16),
            len: 0,
            sync: true,
        })
    }

    /// Whether each write is followed by `fdatasync` (default true). Without it a killed
    /// process still leaves every written cluster (the kernel has it); a machine crash
    /// may not.
    pub fn set_sync(&mut self, sync: bool) {
        self.sync = sync;
    }

    /// Bytes written so far.
    pub fn len(&self) -> u64 {
        self.len
    }

    /// Whether nothing was written yet.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Appends what `rec` has ready; returns how many bytes.
    pub fn write_ready(&mut self, rec: &mut StreamRecorder) -> Result<usize, RecorderError> {
        self.buf.clear();
        let n = rec.poll_output(&mut self.buf);
        if n > 0 {
            self.file.write_all(&self.buf)?;
            self.len += n as u64;
            if self.sync {
                self.file.sync_data()?;
            }
        }
        Ok(n)
    }

    /// Finishes `rec`, appends the rest, patches Duration, Segment size and SeekHead in
    /// place, and syncs.
    pub fn finish(mut self, rec: &mut StreamRecorder) -> Result<Finished, RecorderError> {
        self.buf.clear();
        let finished = rec.finish(&mut self.buf);
        self.file.write_all(&self.buf)?;
        self.len += self.buf.len() as u64;
        for p in &finished.patches {
            self.file.seek(SeekFrom::Start(p.offset))?;
            self.file.write_all(&p.bytes)?;
        }
        self.file.sync_all()?;
        Ok(finished)
    }
}

/// What [`repair`] found and did.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RepairReport {
    /// File length before.
    pub original_len: u64,
    /// File length after (the end of the last complete element).
    pub len: u64,
    /// Complete clusters kept.
    pub clusters: u64,
    /// Blocks in them, per track number (index 0 is track 1).
    pub blocks_per_track: Vec<u64>,
    /// Duration written, ms: the end of the last block of any track (its last frame's
    /// length is its Opus duration, or the track's last frame interval for video).
    pub duration_ms: f64,
}

fn read_at(file: &mut File, offset: u64, buf: &mut [u8]) -> std::io::Result<usize> {
    file.seek(SeekFrom::Start(offset))?;
    let mut got = 0;
    while got < buf.len() {
        match file.read(&mut buf[got..])? {
            0 => break,
            n => got += n,
        }
    }
    Ok(got)
}

/// Reads the element header at `offset`: `(id, header length, data size)`.
fn element_at(file: &mut File, offset: u64) -> std::io::Result<Option<(u32, u64, Option<u64>)>> {
    let mut h = [0u8; 12];
    let got = read_at(file, offset, &mut h)?;
    let h = &h[..got];
    Ok(ebml::read_id(h).and_then(|(element, il)| {
        let (size, sl) = ebml::read_size(&h[il..])?;
        Some((element, (il + sl) as u64, size))
    }))
}

fn read_data(file: &mut File, offset: u64, len: u64, max: u64) -> Result<Vec<u8>, RecorderError> {
    if len > max {
        return Err(RecorderError::Unrepairable(
            "element larger than any this writer makes",
        ));
    }
    let mut data = vec![0; len as usize];
    if read_at(file, offset, &mut data)? < data.len() {
        return Err(RecorderError::Unrepairable("element cut short"));
    }
    Ok(data)
}

/// Makes a recording whose writer was killed before [`StreamFile::finish`] whole:
/// truncates a trailing partial element, sets the Segment size and patches Duration from
/// the last complete cluster. Works on any file [`StreamFile`] writes, finished or not.
///
/// Errors if the file is not a Matroska/WebM file or ends before its Tracks.
pub fn repair(path: &Path) -> Result<RepairReport, RecorderError> {
    let mut file = OpenOptions::new().read(true).write(true).open(path)?;
    let original_len = file.metadata()?.len();
    let not_ours = RecorderError::Unrepairable("not a Matroska/WebM file");
    let Some((element, hl, Some(size))) = element_at(&mut file, 0)? else {
        return Err(not_ours);
    };
    if element != id::EBML {
        return Err(not_ours);
    }
    let segment_at = hl + size;
    let Some((element, hl, _)) = element_at(&mut file, segment_at)? else {
        return Err(RecorderError::Unrepairable(
            "the file ends before its Segment",
        ));
    };
    if element != id::SEGMENT {
        return Err(not_ours);
    }
    // The size field starts after the 4-byte ID.
    let size_at = segment_at + 4;
    let size_len = hl - 4;
    let data_start = segment_at + hl;

    let mut duration_at = None;
    let mut tracks: Vec<(u64, bool)> = Vec::new(); // (number, is Opus)
    let mut clusters: Vec<(u64, u64, u64)> = Vec::new(); // (element, data offset, data size)
    let mut end = data_start;
    let mut pos = data_start;
    while pos < original_len {
        let Some((element, hl, Some(size))) = element_at(&mut file, pos)? else {
            break;
        };
        let next = pos + hl + size;
        if next > original_len {
            break;
        }
        match element {
            id::INFO => {
                let data = read_data(&mut file, pos + hl, size, MAX_HEADER_ELEMENT)?;
                for (kid, body) in Children::new(&data) {
                    if kid == id::DURATION && body.len() == 8 {
                        let body_at = body.as_ptr() as usize - data.as_ptr() as usize;
                        duration_at = Some(pos + hl + body_at as u64);
                    }
                }
            }
            id::TRACKS => {
                let data = read_data(&mut file, pos + hl, size, MAX_HEADER_ELEMENT)?;
                for (kid, entry) in Children::new(&data) {
                    if kid != id::TRACK_ENTRY {
                        continue;
                    }
                    let (mut number, mut opus) = (None, false);
                    for (k, v) in Children::new(entry) {
                        match k {
                            id::TRACK_NUMBER => number = ebml::read_uint(v),
                            id::CODEC_ID => opus = v == b"A_OPUS",
                            _ => {}
                        }
                    }
                    if let Some(n) = number {
                        tracks.push((n, opus));
                    }
                }
            }
            id::CLUSTER => clusters.push((pos, pos + hl, size)),
            _ => {}
        }
        pos = next;
        end = next;
    }
    if tracks.is_empty() {
        return Err(RecorderError::Unrepairable(
            "the file ends before its Tracks",
        ));
    }

    // Read the clusters: block counts, and each track's last two block times.
    let max_track = tracks.iter().map(|t| t.0).max().unwrap_or(1).min(127) as usize;
    let mut blocks = vec![0u64; max_track];
    let mut last: Vec<(Option<i64>, Option<i64>, f64)> = vec![(None, None, 0.0); max_track];
    let mut kept = 0;
    for &(element_at, at, size) in &clusters {
        let (blocks_before, last_before) = (blocks.clone(), last.clone());
        let data = read_data(&mut file, at, size, MAX_CLUSTER)?;
        let mut time = None;
        let mut ok = true;
        let mut kids = Children::new(&data);
        for (kid, body) in kids.by_ref() {
            match kid {
                id::TIMESTAMP => time = ebml::read_uint(body).map(|t| t as i64),
                id::SIMPLE_BLOCK => {
                    let (Some(t0), Some((track, tl))) = (time, ebml::read_size(body)) else {
                        ok = false;
                        break;
                    };
                    let (Some(track), Some(rel)) = (track, body.get(tl..tl + 2)) else {
                        ok = false;
                        break;
                    };
                    let t = t0 + i64::from(i16::from_be_bytes([rel[0], rel[1]]));
                    let i = (track as usize).wrapping_sub(1);
                    if i < max_track {
                        blocks[i] += 1;
                        let opus = tracks.iter().any(|&(n, o)| n == track && o);
                        let frame = body.get(tl + 3..).unwrap_or(&[]);
                        let dur = if opus {
                            opus_packet_duration_48k(frame).map_or(20.0, |s| f64::from(s) / 48.0)
                        } else {
                            0.0
                        };
                        let l = &mut last[i];
                        *l = (Some(t), l.0, dur);
                    }
                }
                _ => {}
            }
        }
        if !ok || kids.truncated {
            // A cluster that does not parse ends the file (this writer never makes one).
            (blocks, last) = (blocks_before, last_before);
            end = element_at;
            break;
        }
        kept += 1;
    }
    let duration_ms = last
        .iter()
        .filter_map(|&(t, prev, dur)| {
            let t = t? as f64;
            let dur = if dur > 0.0 {
                dur
            } else {
                prev.map_or(0.0, |p| t - p as f64)
            };
            Some(t + dur)
        })
        .fold(0.0, f64::max);

    file.set_len(end)?;
    if let Some(at) = duration_at {
        file.seek(SeekFrom::Start(at))?;
        file.write_all(&duration_ms.to_be_bytes())?;
    }
    if size_len == 8 {
        let mut size = Vec::with_capacity(8);
        ebml::put_size_len(&mut size, end - data_start, 8);
        file.seek(SeekFrom::Start(size_at))?;
        file.write_all(&size)?;
    }
    file.sync_all()?;
    Ok(RepairReport {
        original_len,
        len: end,
        clusters: kept,
        blocks_per_track: blocks,
        duration_ms,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Repair on arbitrary bytes, and on a real header followed by garbage: an error
        /// or a report, never a panic, and never a longer file.
        #[test]
        fn repair_never_panics(garbage in prop::collection::vec(any::<u8>(), 0..600), cut in 0usize..400) {
            let dir = std::env::temp_dir().join(format!("parlor-recorder-repair-{}", std::process::id()));
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join(format!("g{}.webm", garbage.len() ^ (cut << 10)));
            std::fs::write(&path, &garbage).unwrap();
            let _ = repair(&path);
            let mut m = crate::mux::Muxer::new(1000);
            m.write_header("webm", 0, &[crate::mux::TrackHeader {
                number: 1, video: false, codec_id: "A_OPUS", codec_private: vec![], dims: (0, 0), channels: 2,
            }]);
            m.write_block(1, false, 0, true, &[0xfc, 1, 2]);
            m.close_cluster();
            let mut bytes = std::mem::take(&mut m.out);
            bytes.truncate(bytes.len().saturating_sub(cut % 40));
            bytes.extend_from_slice(&garbage);
            std::fs::write(&path, &bytes).unwrap();
            if let Ok(r) = repair(&path) {
                prop_assert!(r.len <= bytes.len() as u64);
                prop_assert_eq!(std::fs::metadata(&path).unwrap().len(), r.len);
            }
            let _ = std::fs::remove_file(&path);
        }
    }
}
