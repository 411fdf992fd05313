pub mod codepipeline;
pub mod slack;
