// Package units formats quantities for people: byte sizes in binary units.
package units

import "fmt"

// Bytes formats a byte count with a binary unit and two decimals
// ("1.78 GiB", "512.00 KiB"), or in bytes below 1 KiB ("900 B"). Negative
// counts keep their sign.
func Bytes(n int64) string {
	const unit = 1024
	abs := n
	if abs < 0 {
		abs = -abs
	}
	if abs < unit {
		return fmt.Sprintf("%d B", n)
	}
	x, i := float64(n), -1
	for (x >= unit || x <= -unit) && i < 5 {
		x /= unit
		i++
	}
	return fmt.Sprintf("%.2f %ciB", x, "KMGTPE"[i])
}
