// Package plot draws benchmark rows: messages/s and MB/s against message
// size, one line per system and variant. It lives apart from package bench
// so that importing bench does not pull in the plotting library.
package plot

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/zmqkit/zmqkit/bench"
	"gonum.org/v1/plot"
	"gonum.org/v1/plot/plotter"
	"gonum.org/v1/plot/plotutil"
	"gonum.org/v1/plot/vg"
	"gonum.org/v1/plot/vg/draw"
	"gonum.org/v1/plot/vg/vgimg"
	"gonum.org/v1/plot/vg/vgsvg"
)

// File draws rows into path; its extension (.svg or .png) picks the format.
func File(path string, rows []bench.Row) error {
	ext := strings.ToLower(filepath.Ext(path))
	if ext != ".svg" && ext != ".png" {
		return fmt.Errorf("plot: %s: want a .svg or .png file", path)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := Write(f, ext[1:], rows); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// Write draws rows to w as "svg" or "png".
func Write(w io.Writer, format string, rows []bench.Row) error {
	rate, err := newPlot("Throughput", "messages/s received")
	if err != nil {
		return err
	}
	bw, err := newPlot("Bandwidth", "MB/s received")
	if err != nil {
		return err
	}
	type series struct {
		name       string
		rate, band plotter.XYs
	}
	var all []*series
	for _, r := range rows {
		if r.RecvRate <= 0 || r.Pattern == "reqrep" { // reqrep rows are round trips
			continue
		}
		name := r.System + " " + r.Variant()
		i := slices.IndexFunc(all, func(s *series) bool { return s.name == name })
		if i < 0 {
			all = append(all, &series{name: name})
			i = len(all) - 1
		}
		all[i].rate = append(all[i].rate, plotter.XY{X: float64(r.Size), Y: r.RecvRate})
		all[i].band = append(all[i].band, plotter.XY{X: float64(r.Size), Y: r.RecvMBps})
	}
	if len(all) == 0 {
		return fmt.Errorf("plot: no throughput rows to draw")
	}
	var rateArgs, bandArgs []any
	for _, s := range all {
		rateArgs = append(rateArgs, s.name, s.rate)
		bandArgs = append(bandArgs, s.name, s.band)
	}
	if err := plotutil.AddLinePoints(rate, rateArgs...); err != nil {
		return err
	}
	if err := plotutil.AddLinePoints(bw, bandArgs...); err != nil {
		return err
	}
	width, height := 36*vg.Centimeter, 16*vg.Centimeter
	var canvas interface {
		vg.CanvasSizer
		io.WriterTo
	}
	var dc draw.Canvas
	switch format {
	case "svg":
		c := vgsvg.New(width, height)
		canvas, dc = c, draw.New(c)
	case "png":
		c := vgimg.New(width, height)
		canvas, dc = vgimg.PngCanvas{Canvas: c}, draw.New(c)
	default:
		return fmt.Errorf("plot: unknown format %q", format)
	}
	plots := [][]*plot.Plot{{rate, bw}}
	cs := plot.Align(plots, draw.Tiles{Rows: 1, Cols: 2, PadX: vg.Centimeter, PadY: vg.Centimeter / 2,
		PadTop: vg.Centimeter / 2, PadBottom: vg.Centimeter / 2, PadLeft: vg.Centimeter / 2, PadRight: vg.Centimeter / 2}, dc)
	rate.Draw(cs[0][0])
	bw.Draw(cs[0][1])
	_, err = canvas.WriteTo(w)
	return err
}

func newPlot(title, y string) (*plot.Plot, error) {
	p := plot.New()
	p.Title.Text = title
	p.X.Label.Text = "message size (bytes)"
	p.Y.Label.Text = y
	p.X.Scale = plot.LogScale{}
	p.X.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Y.Scale = plot.LogScale{}
	p.Y.Tick.Marker = plot.LogTicks{Prec: -1}
	p.Legend.Top = true
	p.Legend.TextStyle.Font.Size = vg.Points(7)
	p.Add(plotter.NewGrid())
	return p, nil
}
