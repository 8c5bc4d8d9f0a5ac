use crate::check::run;
