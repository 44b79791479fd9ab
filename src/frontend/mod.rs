//! Front ends: what a model sees of the audio.
//!
//! A model names the front end it was trained on in its ONNX metadata (`front_end`), and
//! genred must feed it exactly that input. The 28-feature front end of the seed's models is
//! [`crate::features`]; the mel-patch front end of the musicnn taggers is [`musicnn_mel`].

pub mod musicnn_mel;
