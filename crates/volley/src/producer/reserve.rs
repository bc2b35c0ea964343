//! What a `send` waits for besides metadata: room in `buffer.memory` and, with
//! `queue.buffering.max.messages`, a record slot. Both wait at most `max.block.ms`, counted
//! from the send's first wait.

use std::time::{Duration, Instant};

use tokio::sync::{Semaphore, TryAcquireError};

use super::Producer;
use crate::error::Error;

impl Producer {
    /// Takes `permits` bytes of `buffer.memory`, waiting (when `wait`) up to `max.block.ms`
    /// counted from `started`.
    pub(super) async fn reserve_memory(
        &self,
        permits: u32,
        size: usize,
        wait: bool,
        started: &mut Option<Instant>,
    ) -> Result<tokio::sync::SemaphorePermit<'_>, Error> {
        let cfg = &self.shared.config;
        let permit = match self.shared.memory.try_acquire_many(permits) {
            Ok(p) => p,
            // `close` closed the semaphore: a closed producer, not a full buffer.
            Err(TryAcquireError::Closed) => return Err(Error::Closed { detail: None }),
            Err(TryAcquireError::NoPermits) if wait => {
                let start = *started.get_or_insert_with(Instant::now);
                let remaining = (start + cfg.max_block).saturating_duration_since(Instant::now());
                let waiting = Instant::now();
                let got = tokio::time::timeout(remaining, self.shared.memory.acquire_many(permits)).await;
                let waited = u64::try_from(waiting.elapsed().as_nanos()).unwrap_or(u64::MAX);
                self.shared
                    .metrics
                    .buffer_wait_ns
                    .fetch_add(waited, std::sync::atomic::Ordering::Relaxed);
                match got {
                    Ok(Ok(p)) => p,
                    Ok(Err(_)) => return Err(Error::Closed { detail: None }),
                    Err(_) => {
                        return Err(Error::BufferFull {
                            size,
                            buffer_memory: cfg.buffer_memory,
                            waited: start.elapsed(),
                        })
                    }
                }
            }
            Err(TryAcquireError::NoPermits) => return Err(Error::WouldBlock { size }),
        };
        Ok(permit)
    }

    /// Takes a record slot (`queue.buffering.max.messages`), waiting (when `wait`) up to
    /// `max.block.ms` counted from `started`. The permit goes back when dropped (an error, a
    /// cancelled `send`); once the record is appended it is forgotten and its batch gives the
    /// slot back when it completes.
    pub(super) async fn record_slot<'s>(
        &self,
        slots: &'s Semaphore,
        wait: bool,
        started: &mut Option<Instant>,
    ) -> Result<tokio::sync::SemaphorePermit<'s>, Error> {
        let limit = self.shared.config.queue_buffering_max_messages.unwrap_or(0);
        let permit = match slots.try_acquire() {
            Ok(p) => p,
            Err(TryAcquireError::Closed) => return Err(Error::Closed { detail: None }),
            Err(TryAcquireError::NoPermits) if wait => {
                let start = *started.get_or_insert_with(Instant::now);
                let remaining = (start + self.shared.config.max_block).saturating_duration_since(Instant::now());
                match tokio::time::timeout(remaining, slots.acquire()).await {
                    Ok(Ok(p)) => p,
                    Ok(Err(_)) => return Err(Error::Closed { detail: None }),
                    Err(_) => {
                        return Err(Error::QueueFull {
                            records: limit,
                            waited: start.elapsed(),
                        })
                    }
                }
            }
            Err(TryAcquireError::NoPermits) => {
                return Err(Error::QueueFull {
                    records: limit,
                    waited: Duration::ZERO,
                })
            }
        };
        Ok(permit)
    }
}
