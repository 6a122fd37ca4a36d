//! How a task accesses a piece of data.

/// How a task accesses a piece of data.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Read only (`In` / `Read`).
    Read,
    /// Written without being read (`Out` / `Write`).
    Write,
    /// Read and written (`InOut` / `ReadWrite`).
    ReadWrite,
}

impl Mode {
    /// Does the access read the previous contents?
    pub fn reads(self) -> bool {
        !matches!(self, Mode::Write)
    }

    /// Does the access change the contents?
    pub fn writes(self) -> bool {
        !matches!(self, Mode::Read)
    }

    /// Must two accesses to overlapping data be ordered?
    pub fn conflicts(self, other: Mode) -> bool {
        self.writes() || other.writes()
    }
}
