//! The Trainer (MXNet's `gluon.Trainer`): applies an optimizer of mxr-train to a set of
//! parameters after `backward`, locally or through a KVStore.

use mxr_frontend::exec::GradReq;
use mxr_frontend::kv::KVStore;
use mxr_train::optim::{self, Optimizer, ParamKey, Updater};

use crate::Result;
use crate::parameter::{Parameter, ParameterDict};

/// Updates parameters from their gradients: `step(batch_size)` rescales the gradients by
/// `1 / batch_size` (times the `rescale_grad` option, default 1) and applies the optimizer to
/// every parameter with a gradient. Parameter `i` of the dictionary is optimizer key `i`;
/// each parameter's `lr_mult` and `wd_mult` apply (as Gluon's `param_dict`).
#[derive(Debug)]
pub struct Trainer {
    params: Vec<Parameter>,
    updater: Updater,
    scale: f64,
    kvstore: Option<KVStore>,
    kv_initialized: bool,
}

impl Trainer {
    /// A trainer of `params` with the optimizer `name` (`"sgd"`, `"adam"`) and its options
    /// (`learning_rate`, `momentum`, `wd`, `rescale_grad`, `clip_gradient`, ...).
    pub fn new(params: &ParameterDict, name: &str, options: &[(&str, f64)]) -> Result<Trainer> {
        let optimizer = optim::create_with(name, options)?;
        Ok(Trainer::with_optimizer(params, optimizer))
    }

    /// A trainer over an optimizer value.
    pub fn with_optimizer(params: &ParameterDict, mut optimizer: Box<dyn Optimizer>) -> Trainer {
        let params: Vec<Parameter> = params.values().cloned().collect();
        let scale = optimizer.core().rescale_grad;
        let lr: Vec<(ParamKey, f64)> = (0..params.len())
            .map(|i| (ParamKey::from(i), params[i].lr_mult()))
            .collect();
        let wd: Vec<(ParamKey, f64)> = (0..params.len())
            .map(|i| (ParamKey::from(i), params[i].wd_mult()))
            .collect();
        optimizer.core_mut().set_lr_mult(lr);
        optimizer.core_mut().set_wd_mult(wd);
        Trainer {
            params,
            updater: Updater::from_boxed(optimizer),
            scale,
            kvstore: None,
            kv_initialized: false,
        }
    }

    /// Updates through `kvstore` (`update_on_kvstore`): gradients are pushed, the store's
    /// copy of the optimizer updates its values, and the weights are pulled back, so several
    /// workers of a distributed store train one model.
    pub fn kvstore(mut self, kvstore: KVStore) -> Trainer {
        self.kvstore = Some(kvstore);
        self
    }

    /// The learning rate.
    pub fn learning_rate(&mut self) -> f64 {
        self.updater.optimizer_mut().core_mut().learning_rate()
    }

    /// Sets the learning rate.
    pub fn set_learning_rate(&mut self, lr: f64) -> Result<()> {
        Ok(self
            .updater
            .optimizer_mut()
            .core_mut()
            .set_learning_rate(lr)?)
    }

    /// One optimizer step for a batch of `batch_size` samples.
    pub fn step(&mut self, batch_size: usize) -> Result<()> {
        let rescale = self.scale / batch_size as f64;
        match self.kvstore.take() {
            Some(kv) => {
                let result = self.step_kvstore(&kv, rescale);
                self.kvstore = Some(kv);
                result
            }
            None => {
                self.updater.optimizer_mut().core_mut().rescale_grad = rescale;
                for (i, p) in self.params.iter().enumerate() {
                    if p.grad_req() != GradReq::Null {
                        self.updater.update(i, &p.grad()?, &p.data()?)?;
                    }
                }
                Ok(())
            }
        }
    }

    fn step_kvstore(&mut self, kv: &KVStore, rescale: f64) -> Result<()> {
        if !self.kv_initialized {
            for (i, p) in self.params.iter().enumerate() {
                kv.init(i as i64, &p.data()?)?;
            }
            let placeholder = Updater::new(optim::Sgd::new());
            let updater = std::mem::replace(&mut self.updater, placeholder);
            kv.set_optimizer(updater);
            self.kv_initialized = true;
        }
        kv.with_optimizer(|u: &mut Updater| {
            u.optimizer_mut().core_mut().rescale_grad = rescale;
        });
        for (i, p) in self.params.iter().enumerate() {
            if p.grad_req() != GradReq::Null {
                kv.push(i as i64, &[&p.grad()?])?;
                kv.pull(i as i64, &[&p.data()?])?;
            }
        }
        Ok(())
    }
}
