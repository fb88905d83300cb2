"""After the event: CPD hours from verified check-ins, certificates of attendance, their verification page, bulk
issue runs and the after-event emails."""
