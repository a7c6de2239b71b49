//! What a model says about its inputs and outputs, in the words both runtimes answer in (a file of its own
//! so that the runtimes and the interface over them all import it and none imports the other's).

use crate::tensor::DType;

/// What the model says about one of its inputs or outputs.
#[derive(Debug, Clone)]
pub struct IoSpec {
    pub name: String,
    /// `None` when the model's type has no tensor type of ours (or is unknown).
    pub dtype: Option<DType>,
    /// Each dim: `Some(n)` when fixed, `None` when symbolic; `None` for a non-tensor value.
    pub shape: Option<Vec<Option<usize>>>,
}
