//! Pre-defined networks (MXNet's `gluon.model_zoo`), built from [`nn`](crate::nn) layers with
//! MXNet 1.9.1's structure, block names and parameter names, so that their exports and
//! parameter files are interchangeable with MXNet's. No pretrained weights are downloaded:
//! load MXNet's files with [`Block::load_parameters`](crate::Block::load_parameters).

pub mod vision;
