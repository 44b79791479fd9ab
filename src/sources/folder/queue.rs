//! The backlog of ready files in front of the workers' job channel.

use std::collections::VecDeque;

use crossbeam_channel::{Sender, TrySendError};
use tracing::info;

use crate::record::FileJob;

/// The queue depth from which its growth is logged (then at every doubling).
const QUEUE_REPORT_DEPTH: usize = 16;

/// Ready files waiting for a worker: a backlog in front of the bounded job
/// channel, fed without ever blocking the watcher.
#[derive(Debug)]
pub(super) struct JobQueue {
    jobs: Sender<FileJob>,
    backlog: VecDeque<FileJob>,
    reported_depth: usize,
}

impl JobQueue {
    /// An empty backlog in front of `jobs`.
    pub(super) fn new(jobs: Sender<FileJob>) -> Self {
        Self {
            jobs,
            backlog: VecDeque::new(),
            reported_depth: 0,
        }
    }

    pub(super) fn push(&mut self, job: FileJob) {
        self.backlog.push_back(job);
    }

    pub(super) fn is_empty(&self) -> bool {
        self.backlog.is_empty()
    }

    /// Moves what fits into the job channel and logs the depth as it grows.
    pub(super) fn feed(&mut self) {
        while let Some(job) = self.backlog.pop_front() {
            match self.jobs.try_send(job) {
                Ok(()) => {}
                Err(TrySendError::Full(job)) => {
                    self.backlog.push_front(job);
                    break;
                }
                Err(TrySendError::Disconnected(_)) => {
                    self.backlog.clear();
                    break;
                }
            }
        }
        let depth = self.backlog.len() + self.jobs.len();
        if depth >= QUEUE_REPORT_DEPTH && depth >= 2 * self.reported_depth {
            info!(depth, "files waiting for a worker");
            self.reported_depth = depth;
        } else if depth == 0 && self.reported_depth > 0 {
            info!("all waiting files handed to workers");
            self.reported_depth = 0;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::settle::tests::identity;
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn the_queue_keeps_what_the_channel_cannot_take() {
        let (jobs, workers) = crossbeam_channel::bounded(2);
        let mut queue = JobQueue {
            jobs,
            backlog: VecDeque::new(),
            reported_depth: 0,
        };
        for n in 0..100 {
            queue.push(FileJob {
                path: format!("/music/{n}.wav").into(),
                identity: identity(n),
            });
        }
        queue.feed();
        assert_eq!(workers.len(), 2);
        let mut received = Vec::new();
        while received.len() < 100 {
            received.extend(workers.try_iter());
            queue.feed();
        }
        let expected: Vec<PathBuf> = (0..100).map(|n| format!("/music/{n}.wav").into()).collect();
        let received: Vec<PathBuf> = received.into_iter().map(|job| job.path).collect();
        assert_eq!(received, expected);
    }
}
