//! Binding a graph to arrays, and running it forward and backward through the engine.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

use mxr_engine::Context;
use mxr_kernels::DType;
use mxr_operators::registry::{Entry, ForwardNode, Shape, reverse_pass};
use parking_lot::Mutex;

use super::fusion::{self, InferenceProgram};
use super::graph::{Graph, Node};
use super::plan::{MemoryPlan, Slot, plan_memory};
use crate::nd::NDArray;
use crate::{Error, Result};

/// What to do with an argument's gradient (MXNet's `grad_req`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum GradReq {
    /// No gradient.
    Null,
    /// Overwrite the gradient array.
    Write,
    /// Add to the gradient array.
    Add,
}

/// Everything fixed at bind: the forward and backward nodes, shapes, dtypes, and the memory
/// plan. Shared by executors bound to other arrays of the same shapes.
#[derive(Debug)]
pub(super) struct Plan {
    pub(super) graph: Graph,
    pub(super) num_forward: usize,
    pub(super) args: Vec<usize>,
    pub(super) aux: Vec<usize>,
    pub(super) head_grad_nodes: Vec<usize>,
    pub(super) loss_outputs: Vec<bool>,
    pub(super) backward_order: Vec<usize>,
    /// Per argument: the entry holding its gradient, and whether it must be copied (or added)
    /// into the gradient array after the backward nodes.
    pub(super) grads: Vec<Option<(Entry, bool)>>,
    pub(super) reqs: Vec<GradReq>,
    pub(super) shapes: Vec<Vec<Vec<usize>>>,
    pub(super) dtypes: Vec<Vec<DType>>,
    pub(super) memory: MemoryPlan,
    /// Per node: which outputs are read by a later node, are graph outputs or gradients.
    pub(super) needed: Vec<Vec<bool>>,
}

/// Bytes the executor allocated for intermediate values, and what keeping every intermediate
/// separately would take (arguments, gradients and auxiliary states excluded from both).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MemoryReport {
    /// Bytes of the planned blocks.
    pub planned_bytes: usize,
    /// Bytes without sharing.
    pub naive_bytes: usize,
    /// Number of blocks.
    pub blocks: usize,
}

impl fmt::Display for MemoryReport {
    /// `Total 8 MB allocated (naive 40 MB, 2 blocks)`, as MXNet's `debug_str` ends.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Total {} MB allocated (naive {} MB, {} blocks)",
            self.planned_bytes >> 20,
            self.naive_bytes >> 20,
            self.blocks
        )
    }
}

/// A graph bound to arrays: MXNet's `Executor`. `forward` and `backward` push the planned
/// operations to the engine and return at once.
#[derive(Debug)]
pub struct Executor {
    pub(super) plan: Arc<Plan>,
    pub(super) context: Context,
    pub(super) values: Vec<Vec<NDArray>>,
    pub(super) arg_arrays: Vec<NDArray>,
    pub(super) grad_arrays: Vec<Option<NDArray>>,
    pub(super) aux_arrays: Vec<NDArray>,
    pub(super) last_is_train: bool,
    /// Plans by signature, shared by the executors [`Executor::reshape`] makes from this one.
    pub(super) plans: Arc<Mutex<HashMap<PlanKey, Arc<Plan>>>>,
    /// Whether inference forwards may use the fused program ([`Executor::set_fusion`]).
    pub(super) fusion: bool,
    /// The smallest activation between two fused convolutions that chains them image by
    /// image; `None`: no chains ([`Executor::set_fusion_chains`]).
    pub(super) chain_min_bytes: Option<usize>,
    /// The inference program: not built yet, built, or not applicable.
    pub(super) inference: Inference,
    /// The planned blocks; `None` while released (the inference program runs without them).
    pub(super) blocks: Vec<Option<NDArray>>,
}

/// The state of an executor's inference program ([`super::fusion`]).
#[derive(Debug, Default)]
pub(super) enum Inference {
    /// Not built yet (built at the first inference forward that may use it).
    #[default]
    Untried,
    /// Built.
    Program(Box<InferenceProgram>),
    /// The graph fuses nothing, or the executor has gradients or is not on the CPU.
    None,
}

/// What a plan depends on: argument and auxiliary shapes and dtypes, gradient requests.
type PlanKey = (
    Vec<(Vec<usize>, DType)>,
    Vec<(Vec<usize>, DType)>,
    Vec<GradReq>,
);

fn plan_key(args: &[NDArray], aux: &[NDArray], reqs: &[GradReq]) -> PlanKey {
    let sig = |arrays: &[NDArray]| {
        arrays
            .iter()
            .map(|a| (a.shape().to_vec(), a.dtype()))
            .collect()
    };
    (sig(args), sig(aux), reqs.to_vec())
}

pub(super) fn bind_error(reason: String) -> Error {
    Error::InvalidArgument {
        call: "Executor::bind",
        reason,
    }
}

impl Executor {
    /// Binds `graph` on `context`: `args` in [`Graph::arguments`] order, `grads` one per argument
    /// (required where the request is not `Null`), `reqs` one per argument, `aux` in
    /// [`Graph::auxiliary_states`] order. Shapes and dtypes are inferred and checked, the
    /// backward graph is built from the operators' gradients, and intermediate storage is
    /// planned and allocated once.
    pub fn bind(
        graph: &Graph,
        context: Context,
        args: Vec<NDArray>,
        grads: Vec<Option<NDArray>>,
        reqs: &[GradReq],
        aux: Vec<NDArray>,
    ) -> Result<Executor> {
        let arg_nodes = graph.arguments();
        let aux_nodes = graph.auxiliary_states();
        // An error unless `given` arrays of `what` were given for the graph's `nodes`.
        let check_count = |what: &str, given: usize, nodes: &[usize]| -> Result<()> {
            if given == nodes.len() {
                return Ok(());
            }
            let names: Vec<&str> = nodes
                .iter()
                .map(|&n| graph.nodes[n].name.as_str())
                .collect();
            Err(bind_error(format!(
                "{given} {what} given, the graph has {} ({})",
                nodes.len(),
                names.join(", ")
            )))
        };
        check_count("arguments", args.len(), &arg_nodes)?;
        check_count("auxiliary states", aux.len(), &aux_nodes)?;
        if grads.len() != arg_nodes.len() || reqs.len() != arg_nodes.len() {
            return Err(bind_error(format!(
                "{} gradient arrays and {} requests for {} arguments",
                grads.len(),
                reqs.len(),
                arg_nodes.len()
            )));
        }
        for (i, a) in args.iter().chain(&aux).enumerate() {
            if a.context() != context {
                let node = arg_nodes
                    .iter()
                    .chain(&aux_nodes)
                    .nth(i)
                    .copied()
                    .unwrap_or(0);
                return Err(bind_error(format!(
                    "{} is on {}, the executor on {context}",
                    graph.nodes[node].name,
                    a.context()
                )));
            }
        }

        // The forward graph plus, when any gradient is asked for, the backward nodes.
        let mut full = graph.clone();
        let num_forward = full.nodes.len();
        let outputs = graph.outputs.clone();
        let loss_outputs: Vec<bool> = outputs
            .iter()
            .map(|e| {
                graph.nodes[e.node]
                    .op
                    .as_ref()
                    .is_some_and(|op| op.is_loss())
            })
            .collect();
        let want_grads = reqs.iter().any(|r| *r != GradReq::Null);
        let mut head_grad_nodes = Vec::new();
        let mut grad_entries: Vec<Option<Entry>> = vec![None; arg_nodes.len()];
        if want_grads {
            for k in 0..outputs.len() {
                head_grad_nodes.push(full.variable(&format!("head_grad{k}")).node);
            }
            let forward: Vec<ForwardNode> = full.nodes[..num_forward]
                .iter()
                .map(Node::to_forward)
                .collect();
            let heads: Vec<(Entry, Entry)> = outputs
                .iter()
                .zip(&head_grad_nodes)
                .map(|(e, &node)| (*e, Entry { node, output: 0 }))
                .collect();
            let wanted: Vec<(usize, Entry)> = arg_nodes
                .iter()
                .enumerate()
                .filter(|(i, _)| reqs[*i] != GradReq::Null)
                .map(|(i, &node)| (i, Entry { node, output: 0 }))
                .collect();
            let wanted_entries: Vec<Entry> = wanted.iter().map(|(_, e)| *e).collect();
            let grads = reverse_pass(&mut full, &forward, &heads, &wanted_entries, true)
                .map_err(|e| bind_error(e.to_string()))?;
            for ((i, _), grad) in wanted.iter().zip(grads) {
                grad_entries[*i] = grad;
            }
        }

        // Backward nodes the gradients need, in order.
        let mut needed = vec![false; full.nodes.len()];
        for e in grad_entries.iter().flatten() {
            needed[e.node] = true;
        }
        for n in (num_forward..full.nodes.len()).rev() {
            if needed[n] {
                for e in full.nodes[n].inputs.clone() {
                    needed[e.node] = true;
                }
            }
        }
        let backward_order: Vec<usize> = (num_forward..full.nodes.len())
            .filter(|&n| needed[n] && full.nodes[n].op.is_some())
            .collect();

        // Shapes and dtypes of every entry.
        let mut known: Vec<(usize, Shape)> = Vec::new();
        let mut known_types: Vec<(usize, DType)> = Vec::new();
        for (&n, a) in arg_nodes
            .iter()
            .zip(&args)
            .chain(aux_nodes.iter().zip(&aux))
        {
            known.push((n, Shape::known(a.shape())));
            known_types.push((n, a.dtype()));
        }
        let forward_shapes = graph.infer_shapes(&known)?;
        let forward_types = graph.infer_types(&known_types)?;
        for (k, e) in outputs.iter().enumerate() {
            if let Some(&hg) = head_grad_nodes.get(k) {
                known.push((hg, forward_shapes[e.node][e.output].clone()));
                if let Some(t) = forward_types[e.node][e.output] {
                    known_types.push((hg, t));
                }
            }
        }
        let shapes = full.infer_shapes(&known)?;
        let types = full.infer_types(&known_types)?;
        let executed: Vec<usize> = (0..num_forward)
            .filter(|&n| full.nodes[n].op.is_some())
            .chain(backward_order.iter().copied())
            .collect();
        let mut dims: Vec<Vec<Vec<usize>>> = Vec::with_capacity(full.nodes.len());
        let mut dtypes: Vec<Vec<DType>> = Vec::with_capacity(full.nodes.len());
        for (n, node) in full.nodes.iter().enumerate() {
            let relevant = node.op.is_none() || executed.contains(&n);
            let mut node_dims = Vec::with_capacity(node.num_outputs());
            let mut node_types = Vec::with_capacity(node.num_outputs());
            for k in 0..node.num_outputs() {
                match (shapes[n][k].dims(), types[n][k]) {
                    (Some(d), Some(t)) => {
                        node_dims.push(d);
                        node_types.push(t);
                    }
                    _ if !relevant => {
                        node_dims.push(Vec::new());
                        node_types.push(DType::F32);
                    }
                    (d, _) => {
                        return Err(bind_error(format!(
                            "cannot infer {} of node {} output {k} (known: {})",
                            if d.is_none() {
                                "the shape"
                            } else {
                                "the dtype"
                            },
                            node.name,
                            shapes[n][k]
                        )));
                    }
                }
            }
            dims.push(node_dims);
            dtypes.push(node_types);
        }
        for (i, a) in args.iter().enumerate() {
            let n = arg_nodes[i];
            if let Some(g) = &grads[i] {
                if g.shape() != dims[n][0].as_slice() || g.dtype() != dtypes[n][0] {
                    return Err(bind_error(format!(
                        "gradient array of {} is {:?} {}, the argument {:?} {}",
                        graph.nodes[n].name,
                        g.shape(),
                        g.dtype(),
                        a.shape(),
                        a.dtype()
                    )));
                }
            } else if reqs[i] != GradReq::Null {
                return Err(bind_error(format!(
                    "argument {} asks for a gradient but has no gradient array",
                    graph.nodes[n].name
                )));
            }
        }

        // Gradients written straight into the user's arrays where possible.
        let mut uses = vec![Vec::new(); full.nodes.len()];
        for (n, node) in full.nodes.iter().enumerate() {
            uses[n] = vec![0usize; node.num_outputs()];
        }
        for &n in &executed {
            for e in &full.nodes[n].inputs {
                uses[e.node][e.output] += 1;
            }
        }
        let mut grad_slot: HashMap<Entry, usize> = HashMap::new();
        let mut grads_plan: Vec<Option<(Entry, bool)>> = vec![None; arg_nodes.len()];
        for (i, e) in grad_entries.iter().enumerate() {
            let Some(e) = e else { continue };
            let direct = reqs[i] == GradReq::Write
                && e.node >= num_forward
                && full.nodes[e.node].op.is_some()
                && uses[e.node][e.output] == 0
                && !grad_slot.contains_key(e)
                && !outputs.contains(e);
            if direct {
                grad_slot.insert(*e, i);
            }
            grads_plan[i] = Some((*e, !direct));
        }
        let variables: Vec<bool> = full.nodes.iter().map(|n| n.op.is_none()).collect();
        let fixed = |e: Entry| -> Option<Slot> {
            if variables[e.node] {
                Some(Slot::External)
            } else {
                grad_slot.get(&e).map(|&i| Slot::Grad(i))
            }
        };
        let mut keep = outputs.clone();
        keep.extend(
            grads_plan
                .iter()
                .flatten()
                .filter(|(_, copy)| *copy)
                .map(|(e, _)| *e),
        );
        let bytes: Vec<Vec<usize>> = dims
            .iter()
            .zip(&dtypes)
            .map(|(ds, ts)| {
                ds.iter()
                    .zip(ts)
                    .map(|(d, t)| d.iter().product::<usize>() * t.size())
                    .collect()
            })
            .collect();
        let memory = plan_memory(&full, &executed, &bytes, &fixed, &keep);
        let mut needed: Vec<Vec<bool>> = uses
            .iter()
            .map(|u| u.iter().map(|&n| n > 0).collect())
            .collect();
        for e in keep.iter().chain(grad_slot.keys()) {
            needed[e.node][e.output] = true;
        }

        let plan = Arc::new(Plan {
            graph: full,
            num_forward,
            args: arg_nodes,
            aux: aux_nodes,
            head_grad_nodes,
            loss_outputs,
            backward_order,
            grads: grads_plan,
            reqs: reqs.to_vec(),
            shapes: dims,
            dtypes,
            memory,
            needed,
        });
        Executor::allocate(plan, context, args, grads, aux)
    }

    /// Allocates the planned blocks and builds every entry's array.
    fn allocate(
        plan: Arc<Plan>,
        context: Context,
        args: Vec<NDArray>,
        grads: Vec<Option<NDArray>>,
        aux: Vec<NDArray>,
    ) -> Result<Executor> {
        let blocks: Vec<NDArray> = plan
            .memory
            .blocks
            .iter()
            .map(|&b| NDArray::new(&[b], DType::U8, context))
            .collect::<Result<_>>()?;
        let mut external: HashMap<usize, NDArray> = HashMap::new();
        for (&n, a) in plan.args.iter().zip(&args) {
            external.insert(n, a.clone());
        }
        for (&n, a) in plan.aux.iter().zip(&aux) {
            external.insert(n, a.clone());
        }
        for (k, &n) in plan.head_grad_nodes.iter().enumerate() {
            let e = plan.graph.outputs[k];
            let head = NDArray::new(
                &plan.shapes[e.node][e.output],
                plan.dtypes[e.node][e.output],
                context,
            )?;
            // Loss layers ignore their head gradient; MXNet's default is ones.
            head.assign_scalar(1.0)?;
            external.insert(n, head);
        }
        let mut values = Vec::with_capacity(plan.graph.nodes.len());
        for (n, node) in plan.graph.nodes.iter().enumerate() {
            let mut outs = Vec::with_capacity(node.num_outputs());
            for k in 0..node.num_outputs() {
                let (shape, dtype) = (&plan.shapes[n][k], plan.dtypes[n][k]);
                let value = match plan.memory.slots[n][k] {
                    Slot::External => external.get(&n).cloned().ok_or_else(|| {
                        bind_error(format!("variable {} has no array", node.name))
                    })?,
                    Slot::Grad(i) => grads[i]
                        .clone()
                        .ok_or_else(|| bind_error(format!("no gradient array for argument {i}")))?,
                    Slot::Block(b) => blocks[b].reinterpret(shape, dtype).ok_or_else(|| {
                        bind_error(format!(
                            "planned block {b} is too small for node {}",
                            node.name
                        ))
                    })?,
                    // Not computed: a zero-size placeholder keeps the indices aligned.
                    Slot::None => NDArray::new(&[0], dtype, context)?,
                };
                outs.push(value);
            }
            values.push(outs);
        }
        let key = plan_key(&args, &aux, &plan.reqs);
        let plans = Arc::new(Mutex::new(HashMap::from([(key, Arc::clone(&plan))])));
        Ok(Executor {
            plan,
            context,
            values,
            arg_arrays: args,
            grad_arrays: grads,
            aux_arrays: aux,
            last_is_train: false,
            plans,
            fusion: fusion::enabled_by_env(),
            chain_min_bytes: fusion::default_chain_min_bytes(),
            inference: Inference::Untried,
            blocks: blocks.into_iter().map(Some).collect(),
        })
    }

    /// An executor for other input shapes (MXNet's `reshape`, e.g. a new batch size): shapes
    /// are inferred from the given ones alone; arrays whose shapes do not change — the weights,
    /// their gradients, the auxiliary states — are shared with this executor, the given inputs
    /// get new arrays, and an argument that would change shape without being given is an error.
    /// Plans are cached by shape: going back to a batch size seen before re-uses its plan.
    pub fn reshape(&self, shapes: &[(&str, &[usize])]) -> Result<Executor> {
        let plan = &self.plan;
        let forward = Graph {
            nodes: plan.graph.nodes[..plan.num_forward].to_vec(),
            outputs: plan.graph.outputs.clone(),
        };
        let mut known: Vec<(usize, Shape)> = Vec::new();
        for (name, dims) in shapes {
            let node = plan
                .args
                .iter()
                .chain(&plan.aux)
                .copied()
                .find(|&n| forward.nodes[n].name == *name)
                .ok_or_else(|| Error::InvalidArgument {
                    call: "Executor::reshape",
                    reason: format!("no argument named {name}"),
                })?;
            known.push((node, Shape::known(dims)));
        }
        let inferred = forward.infer_shapes(&known)?;
        let shape_of = |n: usize| -> Result<Vec<usize>> {
            inferred[n][0].dims().ok_or_else(|| Error::InvalidArgument {
                call: "Executor::reshape",
                reason: format!("cannot infer the new shape of {}", forward.nodes[n].name),
            })
        };
        let given: Vec<usize> = known.iter().map(|(n, _)| *n).collect();
        let mut args = Vec::with_capacity(plan.args.len());
        let mut grads = Vec::with_capacity(plan.args.len());
        for (i, &n) in plan.args.iter().enumerate() {
            let dims = shape_of(n)?;
            let old = &self.arg_arrays[i];
            if old.shape() != dims.as_slice() && !given.contains(&n) {
                // As MXNet: a weight whose shape would change is a mistake in the shapes given.
                return Err(Error::InvalidArgument {
                    call: "Executor::reshape",
                    reason: format!(
                        "the shape of {} would change from {:?} to {dims:?} without being given",
                        forward.nodes[n].name,
                        old.shape()
                    ),
                });
            }
            if old.shape() == dims.as_slice() {
                args.push(old.clone());
                grads.push(self.grad_arrays[i].clone());
            } else {
                args.push(NDArray::new(&dims, old.dtype(), self.context)?);
                grads.push(match &self.grad_arrays[i] {
                    Some(g) => Some(NDArray::new(&dims, g.dtype(), self.context)?),
                    None => None,
                });
            }
        }
        let mut aux = Vec::with_capacity(plan.aux.len());
        for (i, &n) in plan.aux.iter().enumerate() {
            let dims = shape_of(n)?;
            let old = &self.aux_arrays[i];
            aux.push(if old.shape() == dims.as_slice() {
                old.clone()
            } else {
                NDArray::new(&dims, old.dtype(), self.context)?
            });
        }
        let key = plan_key(&args, &aux, &plan.reqs);
        let cached = self.plans.lock().get(&key).cloned();
        let mut exe = match cached {
            Some(p) => Executor::allocate(p, self.context, args, grads, aux)?,
            None => {
                let exe = Executor::bind(&forward, self.context, args, grads, &plan.reqs, aux)?;
                self.plans.lock().insert(key, Arc::clone(&exe.plan));
                exe
            }
        };
        exe.plans = Arc::clone(&self.plans);
        exe.fusion = self.fusion;
        exe.chain_min_bytes = self.chain_min_bytes;
        Ok(exe)
    }

    /// How many plans this executor's family has made (see [`Executor::reshape`]).
    pub fn cached_plans(&self) -> usize {
        self.plans.lock().len()
    }

    /// Binds with every argument, gradient and auxiliary state allocated (zeros) from the given
    /// shapes (MXNet's `simple_bind`): `shapes` names arguments (typically data and label);
    /// the rest is inferred. `req` applies to every argument except those in `no_grad`.
    pub fn simple_bind(
        graph: &Graph,
        context: Context,
        shapes: &[(&str, &[usize])],
        req: GradReq,
        no_grad: &[&str],
    ) -> Result<Executor> {
        let mut known = Vec::new();
        for (name, dims) in shapes {
            let node = graph
                .nodes
                .iter()
                .position(|n| n.op.is_none() && n.name == *name)
                .ok_or_else(|| bind_error(format!("no variable named {name}")))?;
            known.push((node, Shape::known(dims)));
        }
        let inferred = graph.infer_shapes(&known)?;
        let types = graph.infer_types(&[])?;
        let array_for = |n: usize| -> Result<NDArray> {
            let dims = inferred[n][0].dims().ok_or_else(|| {
                bind_error(format!(
                    "cannot infer the shape of {} (known: {})",
                    graph.nodes[n].name, inferred[n][0]
                ))
            })?;
            NDArray::new(&dims, types[n][0].unwrap_or(DType::F32), context)
        };
        let arg_nodes = graph.arguments();
        let args: Vec<NDArray> = arg_nodes
            .iter()
            .map(|&n| array_for(n))
            .collect::<Result<_>>()?;
        let reqs: Vec<GradReq> = arg_nodes
            .iter()
            .map(|&n| {
                if no_grad.contains(&graph.nodes[n].name.as_str()) {
                    GradReq::Null
                } else {
                    req
                }
            })
            .collect();
        let grads: Vec<Option<NDArray>> = arg_nodes
            .iter()
            .zip(&reqs)
            .map(|(&n, r)| (*r != GradReq::Null).then(|| array_for(n)).transpose())
            .collect::<Result<_>>()?;
        let aux: Vec<NDArray> = graph
            .auxiliary_states()
            .iter()
            .map(|&n| array_for(n))
            .collect::<Result<_>>()?;
        Executor::bind(graph, context, args, grads, &reqs, aux)
    }

    /// The outputs (visible ones of each head), valid after `forward`.
    pub fn outputs(&self) -> Vec<NDArray> {
        self.plan
            .graph
            .outputs
            .iter()
            .map(|e| self.values[e.node][e.output].clone())
            .collect()
    }

    /// The argument arrays, in [`Graph::arguments`] order.
    pub fn arg_arrays(&self) -> &[NDArray] {
        &self.arg_arrays
    }

    /// The gradient arrays, one per argument.
    pub fn grad_arrays(&self) -> &[Option<NDArray>] {
        &self.grad_arrays
    }

    /// The auxiliary-state arrays.
    pub fn aux_arrays(&self) -> &[NDArray] {
        &self.aux_arrays
    }

    /// Argument arrays by name.
    pub fn arg_dict(&self) -> HashMap<String, NDArray> {
        self.named(&self.plan.args, &self.arg_arrays)
    }

    /// Gradient arrays by argument name (arguments with a gradient).
    pub fn grad_dict(&self) -> HashMap<String, NDArray> {
        self.plan
            .args
            .iter()
            .zip(&self.grad_arrays)
            .filter_map(|(&n, g)| {
                g.clone()
                    .map(|g| (self.plan.graph.nodes[n].name.clone(), g))
            })
            .collect()
    }

    /// Auxiliary-state arrays by name.
    pub fn aux_dict(&self) -> HashMap<String, NDArray> {
        self.named(&self.plan.aux, &self.aux_arrays)
    }

    fn named(&self, nodes: &[usize], arrays: &[NDArray]) -> HashMap<String, NDArray> {
        nodes
            .iter()
            .zip(arrays)
            .map(|(&n, a)| (self.plan.graph.nodes[n].name.clone(), a.clone()))
            .collect()
    }

    /// What the memory plan allocated for intermediate values.
    pub fn memory(&self) -> MemoryReport {
        MemoryReport {
            planned_bytes: self.plan.memory.planned_bytes(),
            naive_bytes: self.plan.memory.naive_bytes,
            blocks: self.plan.memory.blocks.len(),
        }
    }

    /// The nodes run by forward and backward, one per line, then the memory report (MXNet's
    /// `debug_str`).
    pub fn debug_str(&self) -> String {
        let mut out = String::new();
        let plan = &self.plan;
        let backward = plan.backward_order.iter().copied();
        for n in (0..plan.num_forward).chain(backward) {
            let node = &plan.graph.nodes[n];
            match &node.op {
                None => out.push_str(&format!("Variable:{}\n", node.name)),
                Some(op) => {
                    out.push_str(&format!("Op:{}, Name={}\n", op.name(), node.name));
                    for (k, e) in node.inputs.iter().enumerate() {
                        out.push_str(&format!(
                            "\targ[{k}]={}({})\n",
                            plan.graph.nodes[e.node].name, e.output
                        ));
                    }
                }
            }
        }
        out.push_str(&self.memory().to_string());
        out.push('\n');
        out
    }
}
