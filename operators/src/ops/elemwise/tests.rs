use crate::check::HostTensor;
