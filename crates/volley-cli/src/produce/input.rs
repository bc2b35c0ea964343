//! The input of `volley produce`: files (or standard input) read one after another as one
//! stream of records, split at the record delimiter, or each file whole as one record
//! (`--value-file-per-record`).

use tokio::io::{AsyncBufReadExt, AsyncRead, AsyncReadExt, BufReader};

/// One input: a file or standard input.
pub(super) type Source = Box<dyn AsyncRead + Unpin + Send>;

/// The records of every input, in order.
pub(super) struct Input {
    rest: std::vec::IntoIter<Source>,
    reader: BufReader<Source>,
    /// The record delimiter; `None`: a newline, with a `\r` before it dropped too.
    delimiter: Option<Vec<u8>>,
    /// Each input is one record.
    whole: bool,
    /// The current input was read whole already.
    whole_done: bool,
    /// The current input's index.
    index: usize,
}

/// Which input each line came from, for the report's `"file"` (kept only with more than
/// one input): the first line of each input.
#[derive(Debug)]
pub(super) struct Files {
    names: Vec<String>,
    /// (first line, input index), in order.
    starts: std::sync::Mutex<Vec<(u64, usize)>>,
}

impl Files {
    /// `None` for a single input (its report lines carry no file).
    pub(super) fn new(names: &[String]) -> Option<std::sync::Arc<Self>> {
        (names.len() > 1).then(|| {
            std::sync::Arc::new(Self {
                names: names.to_vec(),
                starts: std::sync::Mutex::new(Vec::new()),
            })
        })
    }

    /// Line `line` came from input `index`.
    pub(super) fn note(&self, line: u64, index: usize) {
        let mut s = self.starts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if s.last().is_none_or(|(_, i)| *i != index) {
            s.push((line, index));
        }
    }

    /// The name of the input line `line` came from, and its line number in that input.
    pub(super) fn locate(&self, line: u64) -> Option<(&str, u64)> {
        let s = self.starts.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let at = s.partition_point(|(first, _)| *first <= line);
        let (first, index) = *s.get(at.checked_sub(1)?)?;
        Some((self.names.get(index)?.as_str(), line - first + 1))
    }

    /// A report line (`{"line":N,...}`) with `"file"` and `"file_line"` (the line's number
    /// in that file; `"line"` counts across every input) first.
    pub(super) fn tag(&self, json: &str) -> Option<String> {
        let rest = json.strip_prefix("{\"line\":")?;
        let digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let line: u64 = rest[..digits].parse().ok()?;
        let (name, file_line) = self.locate(line)?;
        let name = serde_json::Value::from(name).to_string();
        Some(format!("{{\"file\":{name},\"file_line\":{file_line},{}", &json[1..]))
    }
}

impl Input {
    /// The inputs in order; `None` if there is none.
    pub(super) fn new(inputs: Vec<Source>, delimiter: Option<Vec<u8>>, whole: bool) -> Option<Self> {
        let mut rest = inputs.into_iter();
        let first = rest.next()?;
        Some(Self {
            rest,
            reader: BufReader::with_capacity(1 << 20, first),
            delimiter,
            whole,
            whole_done: false,
            index: 0,
        })
    }

    /// The index of the input the last record came from.
    pub(super) fn index(&self) -> usize {
        self.index
    }

    fn delim(&self) -> &[u8] {
        self.delimiter.as_deref().unwrap_or(b"\n")
    }

    /// Whether a whole record is already buffered, so that reading it cannot wait.
    pub(super) fn ready(&self) -> bool {
        if self.whole {
            return false;
        }
        let (buffered, delim) = (self.reader.buffer(), self.delim());
        if delim.len() == 1 {
            buffered.contains(&delim[0])
        } else {
            buffered.windows(delim.len()).any(|w| w == delim)
        }
    }

    /// Reads the next record into `buf` (cleared by the caller), without its delimiter:
    /// the number of bytes read from the input, or `None` after the last input. A file's
    /// end also ends its last record.
    pub(super) async fn next(&mut self, buf: &mut Vec<u8>) -> std::io::Result<Option<usize>> {
        loop {
            let n = if self.whole {
                if self.whole_done {
                    0
                } else {
                    self.whole_done = true;
                    // An empty file is an empty record.
                    return self.reader.read_to_end(buf).await.map(Some);
                }
            } else {
                self.read_record(buf).await?
            };
            if n == 0 {
                match self.rest.next() {
                    Some(next) => {
                        self.reader = BufReader::with_capacity(1 << 20, next);
                        self.whole_done = false;
                        self.index += 1;
                        continue;
                    }
                    None => return Ok(None),
                }
            }
            match &self.delimiter {
                Some(d) if buf.ends_with(d) => buf.truncate(buf.len() - d.len()),
                Some(_) => {}
                None if buf.last() == Some(&b'\n') => {
                    buf.pop();
                    if buf.last() == Some(&b'\r') {
                        buf.pop();
                    }
                }
                None => {}
            }
            return Ok(Some(n));
        }
    }

    /// Reads up to and including the delimiter (or to the end of input) into `buf`.
    async fn read_record(&mut self, buf: &mut Vec<u8>) -> std::io::Result<usize> {
        let delim: &[u8] = self.delimiter.as_deref().unwrap_or(b"\n");
        let reader = &mut self.reader;
        let last = delim[delim.len() - 1];
        let mut total = 0;
        loop {
            let n = reader.read_until(last, buf).await?;
            total += n;
            if n == 0 || buf.ends_with(delim) {
                return Ok(total);
            }
        }
    }
}
