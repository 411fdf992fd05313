//! The errors the simulated API answers, named by the `__type` the AWS SDK matches on.

use axum::http::StatusCode;

/// A refused request: becomes HTTP 4xx/5xx with `{"__type": …, "message": …}`.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ApiError {
    /// Input breaks a constraint of the service model (pattern, length, range, required
    /// member), as `validate` checks them.
    #[error("{0}")]
    Validation(String),
    /// The body is not the JSON the operation expects.
    #[error("{0}")]
    Serialization(String),
    /// `X-Amz-Target` names no operation the simulator serves.
    #[error("operation {0} is not supported by the CodePipeline simulator")]
    UnknownOperation(String),
    #[error("Account does not have a pipeline with name '{0}'")]
    PipelineNotFound(String),
    #[error("Pipeline version '{0}' does not exist")]
    PipelineVersionNotFound(i64),
    #[error("Stage '{0}' does not exist in the pipeline")]
    StageNotFound(String),
    #[error("Action '{0}' does not exist in the stage")]
    ActionNotFound(String),
    #[error("The approval token is not valid: the approval was not requested, has expired or was superseded")]
    InvalidApprovalToken,
    #[error("The approval action has already been approved or rejected")]
    ApprovalAlreadyCompleted,
    #[error("Pipeline execution '{0}' does not exist in the pipeline")]
    PipelineExecutionNotFound(String),
    #[error("Pipeline execution '{0}' is not in progress and cannot be stopped")]
    PipelineExecutionNotStoppable(String),
    #[error("A stop request for pipeline execution '{0}' is already in progress")]
    DuplicatedStopRequest(String),
    #[error("The pipeline '{0}' has reached its limit of {1} concurrent executions")]
    ConcurrentExecutionsLimitExceeded(String, usize),
    #[error("Your request cannot be handled because the pipeline is busy handling ongoing activities. Try again later.")]
    Conflict,
    #[error("The next token is not valid")]
    InvalidNextToken,
    /// Fault injected by the test handle (`fail_next`); carries the `__type` to answer.
    #[error("injected fault: {0}")]
    Injected(String),
}

impl ApiError {
    /// The `__type` (and `x-amzn-ErrorType`) of the error.
    pub(crate) fn type_name(&self) -> &str {
        match self {
            ApiError::Validation(_) => "ValidationException",
            ApiError::Serialization(_) => "SerializationException",
            ApiError::UnknownOperation(_) => "UnknownOperationException",
            ApiError::PipelineNotFound(_) => "PipelineNotFoundException",
            ApiError::PipelineVersionNotFound(_) => "PipelineVersionNotFoundException",
            ApiError::StageNotFound(_) => "StageNotFoundException",
            ApiError::ActionNotFound(_) => "ActionNotFoundException",
            ApiError::InvalidApprovalToken => "InvalidApprovalTokenException",
            ApiError::ApprovalAlreadyCompleted => "ApprovalAlreadyCompletedException",
            ApiError::PipelineExecutionNotFound(_) => "PipelineExecutionNotFoundException",
            ApiError::PipelineExecutionNotStoppable(_) => "PipelineExecutionNotStoppableException",
            ApiError::DuplicatedStopRequest(_) => "DuplicatedStopRequestException",
            ApiError::ConcurrentExecutionsLimitExceeded(..) => {
                "ConcurrentPipelineExecutionsLimitExceededException"
            }
            ApiError::Conflict => "ConflictException",
            ApiError::InvalidNextToken => "InvalidNextTokenException",
            ApiError::Injected(error_type) => error_type,
        }
    }

    /// HTTP status: 400 for every client error; server-side fault names injected by a test
    /// get the 5xx AWS would send, so SDK retry behaviour can be exercised too.
    pub(crate) fn status(&self) -> StatusCode {
        match self.type_name() {
            "InternalFailure" | "InternalServerError" | "InternalServerException" => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            "ServiceUnavailable" | "ServiceUnavailableException" => StatusCode::SERVICE_UNAVAILABLE,
            _ => StatusCode::BAD_REQUEST,
        }
    }
}
