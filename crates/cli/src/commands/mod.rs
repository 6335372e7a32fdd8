pub mod check;
pub mod run;
pub mod serve;
pub mod templates;
