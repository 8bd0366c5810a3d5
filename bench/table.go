package bench

import (
	"fmt"
	"io"
	"strings"
	"unicode/utf8"
)

// Row is one line of the result table. Govmm and Ref are measured in the
// same run; Ratio is govmm divided by the reference (see Ratio).
type Row struct {
	ID    string
	Name  string
	Govmm string
	Ref   string
	Ratio string
	Notes string
}

// Ratio formats govmm/ref as "1.07x", or "-" when either side is missing
// (zero, negative or not a number).
func Ratio(govmm, ref float64) string {
	if !(govmm > 0) || !(ref > 0) {
		return "-"
	}
	r := govmm / ref
	switch {
	case r >= 100:
		return fmt.Sprintf("%.0fx", r)
	case r >= 10:
		return fmt.Sprintf("%.1fx", r)
	}
	return fmt.Sprintf("%.2fx", r)
}

// tableHeader names the columns.
var tableHeader = [5]string{"row", "govmm", "reference", "ratio", "goal/notes"}

// WriteTable prints rows as an aligned text table with the columns row (ID
// and name), govmm, reference, ratio and goal/notes, and a rule under the
// header. Columns are padded by rune count, so "µs" aligns; the notes
// column is last and not padded. Line breaks inside a cell become "; ", so
// each row stays one line.
func WriteTable(w io.Writer, rows []Row) error {
	cells := [][5]string{tableHeader}
	for _, r := range rows {
		c := [5]string{strings.TrimSpace(r.ID + " " + r.Name), r.Govmm, r.Ref, r.Ratio, r.Notes}
		for i := range c {
			c[i] = oneLine(c[i])
		}
		cells = append(cells, c)
	}
	var width [4]int
	for _, c := range cells {
		for i := range width {
			width[i] = max(width[i], utf8.RuneCountInString(c[i]))
		}
	}
	var out strings.Builder
	for k, c := range cells {
		var b strings.Builder
		for i := range width {
			b.WriteString(c[i])
			b.WriteString(strings.Repeat(" ", width[i]-utf8.RuneCountInString(c[i])+2))
		}
		b.WriteString(c[4])
		line := strings.TrimRight(b.String(), " ")
		out.WriteString(line + "\n")
		if k == 0 {
			out.WriteString(strings.Repeat("-", utf8.RuneCountInString(line)) + "\n")
		}
	}
	_, err := io.WriteString(w, out.String())
	return err
}

// oneLine trims s and joins its lines with "; ".
func oneLine(s string) string {
	lines := strings.FieldsFunc(strings.TrimSpace(s), func(r rune) bool { return r == '\n' || r == '\r' })
	for i := range lines {
		lines[i] = strings.TrimSpace(lines[i])
	}
	return strings.Join(lines, "; ")
}
