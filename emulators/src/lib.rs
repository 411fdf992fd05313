pub mod codepipeline;
pub mod ministack;
pub mod slack;
