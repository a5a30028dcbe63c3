package storage

import "time"

// QueueJob is a job for a durable queue (back-channel logout deliveries):
// an opaque payload, due at Due.
type QueueJob struct {
	Payload []byte
	Due     time.Time
}

// ClaimedJob is a queued job a worker holds until its claim's lease ends;
// the worker then completes it or puts it back for a later attempt.
type ClaimedJob struct {
	ID       string
	Payload  []byte
	Attempts int // failed attempts before this one
	// Claim identifies the claim: completing or retrying the job works only
	// while this claim still holds it.
	Claim string
}
