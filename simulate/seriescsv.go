package simulate

import (
	"bufio"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/primetime-dev/primetime/ground"
)

// ReadSeriesCSV reads timestamp,load rows into a series sorted by time.
// Timestamps are RFC 3339 or Unix seconds; a header row and lines starting
// with # are skipped. name labels errors (FILE:LINE: field: reason).
func ReadSeriesCSV(r io.Reader, name string) (ground.Series, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.Comment = '#'
	cr.ReuseRecord = true
	var s ground.Series
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %v", name, err)
		}
		line, _ := cr.FieldPos(0)
		if len(rec) < 2 {
			return nil, fmt.Errorf("%s:%d: want timestamp,load", name, line)
		}
		ts, tsErr := parseTimestamp(strings.TrimSpace(rec[0]))
		v, vErr := strconv.ParseFloat(strings.TrimSpace(rec[1]), 64)
		if len(s) == 0 && tsErr != nil && vErr != nil {
			continue // header
		}
		if tsErr != nil {
			return nil, fmt.Errorf("%s:%d: timestamp: %v", name, line, tsErr)
		}
		if vErr != nil || v < 0 || math.IsNaN(v) || math.IsInf(v, 0) {
			return nil, fmt.Errorf("%s:%d: load: want a number >= 0, got %q", name, line, rec[1])
		}
		if n := len(s); n > 0 && !ts.After(s[n-1].T) {
			return nil, fmt.Errorf("%s:%d: timestamp: must be after the previous row's (%s)", name, line, s[n-1].T.Format(time.RFC3339))
		}
		s = append(s, ground.Sample{T: ts, V: v})
	}
	if len(s) == 0 {
		return nil, fmt.Errorf("%s: no rows", name)
	}
	return s, nil
}

// WriteSeriesCSV writes the series as a timestamp,load header and one
// RFC 3339 (UTC) row per sample, the load with at most 'digits' decimals.
func WriteSeriesCSV(w io.Writer, s ground.Series, digits int) error {
	bw := bufio.NewWriter(w)
	bw.WriteString("timestamp,load\n")
	var buf []byte
	for _, p := range s {
		buf = p.T.UTC().AppendFormat(buf[:0], time.RFC3339)
		buf = append(buf, ',')
		buf = strconv.AppendFloat(buf, p.V, 'f', digits, 64)
		buf = append(buf, '\n')
		if _, err := bw.Write(buf); err != nil {
			return err
		}
	}
	return bw.Flush()
}

func parseTimestamp(s string) (time.Time, error) {
	if sec, err := strconv.ParseFloat(s, 64); err == nil {
		return time.Unix(0, int64(sec*1e9)).UTC(), nil
	}
	return time.Parse(time.RFC3339, s)
}
