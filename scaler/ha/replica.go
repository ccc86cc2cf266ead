package ha

import (
	"context"
	"errors"
)

// ErrLost is the error of a replica that lost the Lease while leading: it
// must stop at once (its process exits and is restarted as a follower).
var ErrLost = errors.New("lost the leader Lease")

// RunReplica runs what one replica does with the Lease: with an election,
// it campaigns and runs the leader while it holds the Lease; without one
// (a single replica), it leads at once. It returns nil once ctx has ended,
// the leader's work has stopped and the Lease is released (a shutdown),
// ErrLost when the Lease was lost, or ErrFenced when a later leader wrote
// the state.
func RunReplica(ctx context.Context, e *Election, l *Leader) error {
	if e == nil {
		return l.Run(ctx, 0)
	}
	var leadErr error
	done := make(chan struct{})
	lost, err := e.Run(ctx, func(ctx context.Context, epoch int64) {
		defer close(done)
		leadErr = l.Run(ctx, epoch)
	})
	switch {
	case err != nil:
		return err
	case lost:
		<-done
		if leadErr != nil {
			return leadErr
		}
		return ErrLost
	}
	return leadErr
}
