"""Session feedback: delegates who were checked in to a session rate it and answer the organisers' questions;
organisers and the session's speakers read the results."""
