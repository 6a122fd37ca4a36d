//! The crate's one error type.

/// Everything that can go wrong in mosaic, as one `thiserror` enum with context.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A task's closure panicked. `task` is the task's name, `message` the panic's text
    /// when it was a string.
    #[error("task `{task}` panicked: {message}")]
    TaskPanicked {
        /// Name of the task that panicked.
        task: String,
        /// The panic message, or a placeholder when the payload was not a string.
        message: String,
    },
    /// A task did not run because a task it reads from failed (panicked, or was itself
    /// cancelled), so its input would have been garbage. `cause` names the failure the
    /// cancellation goes back to, however many tasks it passed through.
    #[error("task `{task}` did not run: its input was written by a task that failed ({cause})")]
    DependencyFailed {
        /// Name of the cancelled task.
        task: String,
        /// The root failure, e.g. "task `map` panicked: index out of bounds".
        cause: String,
    },
    /// Waiting for `task` from inside `holder`, which holds data `task` needs, would never
    /// return. The task is not lost: it runs once `holder` has finished.
    #[error("waiting for task `{task}` inside task `{holder}` would deadlock: `{holder}` holds data `{task}` accesses")]
    WouldDeadlock {
        /// The task that was waited for.
        task: String,
        /// The running task that holds its data.
        holder: String,
    },
    /// Operand shapes do not fit together.
    #[error("shape mismatch in {op}: {left:?} vs {right:?}")]
    ShapeMismatch {
        /// The operation that was asked for.
        op: &'static str,
        /// Shape of the left operand (rows, cols).
        left: (usize, usize),
        /// Shape of the right operand (rows, cols).
        right: (usize, usize),
    },
    /// Cholesky met a non-positive pivot at this global (row/column) index.
    #[error("matrix is not positive definite: non-positive pivot at index {index}")]
    NotPositiveDefinite {
        /// Global index of the failing pivot.
        index: usize,
    },
    /// A task could not start: the memory space it was placed in is not available to
    /// hold its data.
    #[error("no memory space available for the task's data: {space}")]
    MemorySpaceUnavailable {
        /// The space that was asked for.
        space: String,
    },
    /// A task's own accesses need more of a memory space than its budget allows
    /// (`runtime::set_memory_limit`), or a budget was lowered below data that cannot be
    /// evicted now. Nothing was written; a larger limit lets the same program run.
    #[error("out of memory in {space:?}: {needed} bytes needed, limit {limit} bytes")]
    OutOfMemory {
        /// The space whose budget is too small.
        space: crate::runtime::MemorySpace,
        /// Bytes needed at once.
        needed: usize,
        /// The space's limit in bytes.
        limit: usize,
    },
    /// A file could not be used: a spill file (the directory is missing, read-only or
    /// full) or an npy file (missing, truncated, of the wrong type or shape).
    #[error("{path}: {reason}")]
    File {
        /// The file or directory.
        path: String,
        /// What went wrong.
        reason: String,
    },
    /// No processor matches the target a task or an `on` scope asked for (a CUDA device on
    /// a machine without one, a device index past the last), or a task that runs a
    /// closure (CPU code) was pinned to an accelerator.
    #[error("no processor matches the target: {target}")]
    NoProcessor {
        /// The target, e.g. "CUDA device 0".
        target: String,
    },
    /// A CUDA device failed an operation of the runtime's (an allocation or a copy the
    /// budget allowed, a driver error); the tasks that needed it fail with this.
    #[error("CUDA device {device}: {message}")]
    Device {
        /// The device number (`MemorySpace::Device(device)`).
        device: usize,
        /// What failed, as the driver or library reported it.
        message: String,
    },
    /// A factorization met an exactly zero pivot at this global index.
    #[error("matrix is singular: zero pivot at index {index}")]
    Singular {
        /// Global index of the zero pivot.
        index: usize,
    },

    /// MPI (feature `mpi`) could not start, or its communication thread is gone.
    #[error("MPI: {message}")]
    Distributed {
        /// What went wrong.
        message: String,
    },

    /// Under MPI, the task ran on another rank (the owner of the tile it writes, or the
    /// holder of what it reads in place): its result is there, not here.
    #[error("task `{task}` ran on rank {rank}; its result is not on this rank")]
    RanElsewhere {
        /// The task's name.
        task: String,
        /// The rank that ran it.
        rank: usize,
    },

    /// Under MPI, the ranks' programs differ: they submitted different tasks (operation,
    /// shapes or tile sizes) at the same point.
    #[error("the ranks' programs diverged at task #{task} (`{name}`): {detail}")]
    Diverged {
        /// The number of the first task (in submission order) where they differ, when both
        /// ranks still remember it (each remembers its latest 65 536 tasks, and the other
        /// rank must answer within 5 s); otherwise the task where the divergence was found,
        /// which `detail` then says.
        task: u64,
        /// Its name on this rank.
        name: String,
        /// What differs.
        detail: String,
    },
}

impl Error {
    /// `Error::File` for `path`.
    pub(crate) fn file(path: &std::path::Path, reason: impl std::fmt::Display) -> Self {
        Error::File {
            path: path.display().to_string(),
            reason: reason.to_string(),
        }
    }
}

/// `Result` with mosaic's [`Error`].
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The text of a panic payload, when it has one.
pub(crate) fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&'static str>() {
        (*s).to_owned()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "<non-string panic payload>".to_owned()
    }
}
