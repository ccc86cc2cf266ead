//go:build simulateonly

package simulate

import (
	"errors"
	"io"
)

// WriteSVG is absent from the lean build (-tags simulateonly, which
// make demo uses to show the simulation within a minute of a fresh
// clone): the charts' plotting library is most of its build time.
func WriteSVG(io.Writer, *Report, PlotOptions) error {
	return errors.New("this primetime was built with -tags simulateonly, without charts; build it without the tag (go build ./cmd/primetime) to draw them")
}
