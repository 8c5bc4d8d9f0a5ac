//! One ONNX node during import: its name, inputs and typed attribute reads, each failure an
//! error naming the node, its operator and the attribute.

use crate::error::Error;
use crate::proto::attribute_proto::AttributeType;
use crate::proto::{AttributeProto, NodeProto};
use crate::tensor::{self, Tensor};

/// A node being converted.
#[derive(Debug)]
pub(crate) struct Node<'a> {
    pub(crate) proto: &'a NodeProto,
    /// The node's name, else its first output's (ONNX names are optional).
    pub(crate) name: String,
    /// Its operator (`op_type`).
    pub(crate) op: &'a str,
    /// The model's opset of the default domain.
    pub(crate) opset: i64,
}

impl<'a> Node<'a> {
    pub(crate) fn new(proto: &'a NodeProto, opset: i64) -> Node<'a> {
        let name = match proto.name() {
            "" => proto.output.first().cloned().unwrap_or_default(),
            n => n.to_owned(),
        };
        Node {
            proto,
            name,
            op: proto.op_type(),
            opset,
        }
    }

    /// An error about the node.
    pub(crate) fn error(&self, reason: impl Into<String>) -> Error {
        Error::Node {
            node: self.name.clone(),
            op: self.op.to_owned(),
            reason: reason.into(),
        }
    }

    /// An error about attribute `attribute`.
    pub(crate) fn attr_error(&self, attribute: &str, reason: impl Into<String>) -> Error {
        Error::Attribute {
            node: self.name.clone(),
            op: self.op.to_owned(),
            attribute: attribute.to_owned(),
            reason: reason.into(),
        }
    }

    /// Input `i`'s name; `None` when absent or empty (ONNX's omitted optional input).
    pub(crate) fn input(&self, i: usize) -> Option<&'a str> {
        self.proto
            .input
            .get(i)
            .map(String::as_str)
            .filter(|s| !s.is_empty())
    }

    /// Input `i`'s name, an error when absent.
    pub(crate) fn required_input(&self, i: usize) -> Result<&'a str, Error> {
        self.input(i)
            .ok_or_else(|| self.error(format!("input {i} is missing")))
    }

    /// The number of inputs given (trailing omitted ones not counted).
    pub(crate) fn num_inputs(&self) -> usize {
        self.proto.input.len()
    }

    /// Fails on any attribute not in `known` (the ones the conversion reads or that cannot
    /// change the result), so that nothing is silently ignored.
    pub(crate) fn check_attrs(&self, known: &[&str]) -> Result<(), Error> {
        for a in &self.proto.attribute {
            if !known.contains(&a.name()) {
                return Err(self.attr_error(
                    a.name(),
                    format!(
                        "not supported by mxr's {} conversion (it reads {})",
                        self.op,
                        if known.is_empty() {
                            "no attributes".to_owned()
                        } else {
                            known.join(", ")
                        }
                    ),
                ));
            }
        }
        Ok(())
    }

    fn attr(&self, name: &str) -> Option<&'a AttributeProto> {
        self.proto.attribute.iter().find(|a| a.name() == name)
    }

    fn typed(&self, name: &str, want: AttributeType) -> Result<Option<&'a AttributeProto>, Error> {
        match self.attr(name) {
            None => Ok(None),
            Some(a) => {
                let found = a.r#type();
                // Files from before IR v2 may leave the type unset; trust the field then.
                if found == want || found == AttributeType::Undefined {
                    Ok(Some(a))
                } else {
                    Err(self.attr_error(
                        name,
                        format!(
                            "is {}, expected {}",
                            found.as_str_name(),
                            want.as_str_name()
                        ),
                    ))
                }
            }
        }
    }

    /// An integer attribute, `default` when absent.
    pub(crate) fn int(&self, name: &str, default: i64) -> Result<i64, Error> {
        Ok(self
            .typed(name, AttributeType::Int)?
            .map_or(default, |a| a.i()))
    }

    /// A float attribute, `default` when absent.
    pub(crate) fn float(&self, name: &str, default: f32) -> Result<f32, Error> {
        Ok(self
            .typed(name, AttributeType::Float)?
            .map_or(default, |a| a.f()))
    }

    /// A string attribute, `default` when absent.
    pub(crate) fn string(&self, name: &str, default: &str) -> Result<String, Error> {
        match self.typed(name, AttributeType::String)? {
            None => Ok(default.to_owned()),
            Some(a) => {
                String::from_utf8(a.s().to_vec()).map_err(|_| self.attr_error(name, "is not UTF-8"))
            }
        }
    }

    /// A list-of-integers attribute; `None` when absent.
    pub(crate) fn ints(&self, name: &str) -> Result<Option<Vec<i64>>, Error> {
        Ok(self
            .typed(name, AttributeType::Ints)?
            .map(|a| a.ints.clone()))
    }

    /// A list-of-integers attribute of non-negative values (kernel sizes, strides, pads).
    pub(crate) fn sizes(&self, name: &str) -> Result<Option<Vec<usize>>, Error> {
        self.ints(name)?
            .map(|v| {
                v.iter()
                    .map(|&x| usize::try_from(x))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(|_| self.attr_error(name, format!("{v:?} has a negative value")))
            })
            .transpose()
    }

    /// A tensor attribute (Constant's `value`), decoded.
    pub(crate) fn tensor(&self, name: &str) -> Result<Option<Tensor>, Error> {
        self.typed(name, AttributeType::Tensor)?
            .map(|a| {
                let t =
                    a.t.as_ref()
                        .ok_or_else(|| self.attr_error(name, "has no tensor"))?;
                tensor::decode(t, None)
            })
            .transpose()
    }

    /// The names of the attributes present.
    pub(crate) fn attr_names(&self) -> Vec<&'a str> {
        self.proto.attribute.iter().map(|a| a.name()).collect()
    }
}

/// An axis in `-rank..rank` as an index.
pub(crate) fn axis(
    node: &Node<'_>,
    attribute: &str,
    axis: i64,
    rank: usize,
) -> Result<usize, Error> {
    let r = rank as i64;
    if axis < -r || axis >= r {
        return Err(node.attr_error(
            attribute,
            format!("axis {axis} is out of range for rank {rank}"),
        ));
    }
    Ok(if axis < 0 {
        (axis + r) as usize
    } else {
        axis as usize
    })
}
