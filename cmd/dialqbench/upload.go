package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Targets of the campaign upload benchmark.
const (
	targetUpload100k = 10 * time.Second
	targetUploadRSS  = 150 << 20
)

// uploadOptions configure the campaign upload benchmark.
type uploadOptions struct {
	Small  int           `json:"small"`  // contacts of the timed upload (target: accepted in 10 s, RSS 150 MB)
	Large  int           `json:"large"`  // contacts of the upload and dry run whose memory is sampled
	Sample time.Duration `json:"sample"` // how often the API's RSS is read
	// JSON is the contacts of a JSON upload (the body streamed as one JSON
	// object with a contacts array); 0 skips it.
	JSON int `json:"json"`
}

// uploadResult is the campaign upload benchmark's outcome.
type uploadResult struct {
	Options uploadOptions `json:"options"`
	Runs    []uploadRun   `json:"runs"`
}

// uploadRun is one upload to a fresh API process.
type uploadRun struct {
	Contacts int           `json:"contacts"`
	DryRun   bool          `json:"dry_run"`
	JSON     bool          `json:"json"`    // a JSON body, not a CSV upload
	Bytes    int64         `json:"bytes"`   // the CSV, or the JSON body
	Elapsed  time.Duration `json:"elapsed"` // from the first byte sent to the answer
	Status   int           `json:"status"`
	Stored   int64         `json:"stored"` // contacts_total, or the dry run's valid count
	// RSS of the API process: before the upload, its peak (VmHWM, over the
	// process's life: it served only this upload), and sampled during it.
	RSSBefore int64       `json:"rss_before"`
	Peak      int64       `json:"peak"`
	Samples   []rssSample `json:"samples"`
}

type rssSample struct {
	At  time.Duration `json:"at"`
	RSS int64         `json:"rss"`
}

// runUpload is the campaign upload benchmark: a generated CSV of o.Small
// contacts uploaded to a real API process (time to the 201, peak RSS),
// then one of o.Large contacts uploaded and dry-run, each to an API
// process of its own, its RSS sampled through the run.
func runUpload(ctx context.Context, e env, o uploadOptions, logDir string) (*uploadResult, error) {
	f, err := newFixture(ctx, e, "")
	if err != nil {
		return nil, err
	}
	defer f.close()
	res := &uploadResult{Options: o}
	var miss []string
	runs := []struct {
		contacts     int
		dryRun, json bool
	}{{o.Small, false, false}, {o.Large, false, false}, {o.Large, true, false}}
	if o.JSON > 0 {
		runs = append(runs, struct {
			contacts     int
			dryRun, json bool
		}{o.JSON, false, true})
	}
	for _, run := range runs {
		write, ext := writeContactsCSV, "csv"
		if run.json {
			write, ext = writeContactsJSON, "json"
		}
		csvPath := filepath.Join(os.TempDir(), fmt.Sprintf("dialqbench-contacts-%d.%s", run.contacts, ext))
		size, err := write(csvPath, run.contacts, f)
		if err != nil {
			return nil, err
		}
		r, err := uploadOnce(ctx, e, f, csvPath, size, run.contacts, run.dryRun, run.json, o.Sample, logDir)
		if err != nil {
			return nil, err
		}
		res.Runs = append(res.Runs, r)
		var samples []string
		for _, s := range r.Samples {
			samples = append(samples, fmt.Sprintf("%.1fs:%.0f", s.At.Seconds(), mib(s.RSS)))
		}
		logf("upload %d contacts (%s, %.1f MiB)%s: HTTP %d in %s, %d stored; API RSS before %.0f MiB, peak %.0f MiB; samples (s:MiB) %s",
			r.Contacts, map[bool]string{false: "CSV", true: "JSON"}[r.JSON], mib(r.Bytes), map[bool]string{true: " dry run"}[r.DryRun], r.Status, r.Elapsed.Round(time.Millisecond),
			r.Stored, mib(r.RSSBefore), mib(r.Peak), strings.Join(samples, " "))
		want := http.StatusCreated
		if run.dryRun {
			want = http.StatusOK
		}
		switch {
		case r.Status != want || r.Stored != int64(run.contacts):
			miss = append(miss, fmt.Sprintf("%d contacts: HTTP %d, %d of them valid", run.contacts, r.Status, r.Stored))
		case r.Peak > targetUploadRSS:
			miss = append(miss, fmt.Sprintf("%d contacts: API peak RSS %.0f MiB over %d MiB", run.contacts, mib(r.Peak), targetUploadRSS>>20))
		case run.contacts == o.Small && !run.dryRun && r.Elapsed > targetUpload100k:
			miss = append(miss, fmt.Sprintf("%d contacts took %s, over %s", run.contacts, r.Elapsed.Round(time.Millisecond), targetUpload100k))
		}
		os.Remove(csvPath)
	}
	if len(miss) > 0 {
		return res, fmt.Errorf("campaign upload: %s", strings.Join(miss, "; "))
	}
	return res, nil
}

// writeContactsCSV writes n contacts, distinct numbers, a tenth with a
// timezone of their own, and returns the file's size.
func writeContactsCSV(path string, n int, _ *fixture) (int64, error) {
	file, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer file.Close()
	w := bufio.NewWriterSize(file, 1<<20)
	fmt.Fprintln(w, "to_number,timezone,name,company,plan")
	for i := range n {
		zone := ""
		if i%10 == 0 {
			zone = "Europe/Paris"
		}
		fmt.Fprintf(w, "+1212%07d,%s,Customer %d,Acme Corp,gold\n", i, zone, i)
	}
	if err := w.Flush(); err != nil {
		return 0, err
	}
	st, err := file.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// writeContactsJSON writes the JSON body of a campaign of n contacts, as
// writeContactsCSV's, the contacts array before the campaign's fields.
func writeContactsJSON(path string, n int, f *fixture) (int64, error) {
	file, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer file.Close()
	w := bufio.NewWriterSize(file, 1<<20)
	w.WriteString(`{"contacts": [`)
	for i := range n {
		if i > 0 {
			w.WriteString(",\n")
		}
		zone := ""
		if i%10 == 0 {
			zone = `, "timezone": "Europe/Paris"`
		}
		fmt.Fprintf(w, `{"to_number": "+1212%07d", "metadata": {"name": "Customer %d", "company": "Acme Corp", "plan": "gold"}%s}`, i, i, zone)
	}
	cj, _ := json.Marshal(uploadCampaign(f, false))
	fmt.Fprintf(w, "],\n%s", cj[1:])
	if err := w.Flush(); err != nil {
		return 0, err
	}
	st, err := file.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// uploadCampaign is the campaign's fields of every run.
func uploadCampaign(f *fixture, dryRun bool) map[string]any {
	return map[string]any{"name": "bench upload", "assistant_id": f.Assistant.ID, "trunk_id": f.Trunk.ID,
		"call_service": "twilio", "dry_run": dryRun,
		"settings": map[string]any{"calls_per_second": 10, "calling_windows": []map[string]any{{"start": "09:00", "end": "18:00"}}}}
}

// uploadOnce starts an API process, posts the CSV at path to it as a
// multipart upload streamed from the file, and samples its RSS meanwhile.
func uploadOnce(ctx context.Context, e env, f *fixture, path string, size int64, contacts int, dryRun, asJSON bool, every time.Duration, logDir string) (uploadRun, error) {
	r := uploadRun{Contacts: contacts, DryRun: dryRun, JSON: asJSON, Bytes: size}
	api, err := startSelf(ctx, "dialq API", filepath.Join(logDir, "bench-upload.log"), "serve",
		dialqProcs{API: true, DSN: f.DSN, Redis: e.RedisAddr, Queue: benchName("bench_upload_"), Channel: benchName("bench:ch:")})
	if err != nil {
		return r, err
	}
	defer api.stop()
	pid := api.Pid()
	r.RSSBefore = procMemory(pid, "VmRSS")

	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		err := func() error {
			part, err := mw.CreatePart(textproto.MIMEHeader{"Content-Disposition": {`form-data; name="campaign"`},
				"Content-Type": {"application/json"}})
			if err != nil {
				return err
			}
			cj, _ := json.Marshal(uploadCampaign(f, dryRun))
			part.Write(cj)
			if part, err = mw.CreateFormFile("contacts", "contacts.csv"); err != nil {
				return err
			}
			file, err := os.Open(path)
			if err != nil {
				return err
			}
			defer file.Close()
			if _, err := io.Copy(part, file); err != nil {
				return err
			}
			return mw.Close()
		}()
		pw.CloseWithError(err)
	}()
	var reqBody io.Reader = pr
	contentType := mw.FormDataContentType()
	if asJSON {
		pr.Close() // the multipart writer is not used
		file, err := os.Open(path)
		if err != nil {
			return r, err
		}
		defer file.Close()
		reqBody, contentType = file, "application/json"
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+api.Addr+"/campaigns", reqBody)
	if err != nil {
		return r, err
	}
	req.Header.Set("Authorization", "Bearer "+f.Key)
	req.Header.Set("Content-Type", contentType)

	start := time.Now()
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-stop:
				return
			case <-t.C:
				r.Samples = append(r.Samples, rssSample{At: time.Since(start), RSS: procMemory(pid, "VmRSS")})
			}
		}
	})
	resp, err := (&http.Client{Timeout: 30 * time.Minute}).Do(req)
	r.Elapsed = time.Since(start)
	close(stop)
	wg.Wait()
	if err != nil {
		return r, fmt.Errorf("upload %d contacts: %w", contacts, err)
	}
	defer resp.Body.Close()
	r.Status = resp.StatusCode
	r.Peak = procMemory(pid, "VmHWM")
	var body struct {
		Data struct {
			ContactsTotal int64 `json:"contacts_total"`
			Upload        struct {
				Counts struct {
					Valid int64 `json:"valid"`
				} `json:"counts"`
			} `json:"upload"`
		} `json:"data"`
	}
	raw, _ := io.ReadAll(resp.Body)
	if err := json.Unmarshal(raw, &body); err != nil {
		return r, fmt.Errorf("upload %d contacts: HTTP %d: %.300s", contacts, resp.StatusCode, raw)
	}
	r.Stored = body.Data.Upload.Counts.Valid
	if !dryRun && resp.StatusCode == http.StatusCreated {
		r.Stored = body.Data.ContactsTotal
	}
	if r.Stored != int64(contacts) {
		logf("upload answer: %.500s", raw)
	}
	return r, nil
}

// procMemory reads a size field (VmRSS, VmHWM) of /proc/<pid>/status, in
// bytes; 0 if it cannot.
func procMemory(pid int, field string) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

// markdown renders the campaign upload figures.
func (u *uploadResult) markdown() string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("#### Campaign upload, `POST /campaigns`\n\n")
	p("Each run posts generated contacts (to_number, a tenth with a timezone, three metadata keys), as a multipart CSV upload or a JSON body, to a fresh API process; RSS is its /proc status, sampled every %s.\n\n", u.Options.Sample)
	p("| contacts | body | dry run | MiB | HTTP | time s | API RSS before MiB | peak (VmHWM) MiB | verdict |\n|---:|---|---|---:|---:|---:|---:|---:|---|\n")
	for _, r := range u.Runs {
		ok := r.Peak <= targetUploadRSS && r.Stored == int64(r.Contacts)
		if r.Contacts == u.Options.Small && !r.DryRun {
			ok = ok && r.Elapsed <= targetUpload100k
		}
		p("| %d | %s | %v | %.1f | %d | %.2f | %.0f | %.0f | %s |\n", r.Contacts, map[bool]string{false: "CSV", true: "JSON"}[r.JSON], r.DryRun, mib(r.Bytes), r.Status, r.Elapsed.Seconds(),
			mib(r.RSSBefore), mib(r.Peak), verdict(ok))
	}
	p("\n")
	for _, r := range u.Runs {
		var s []string
		for _, x := range r.Samples {
			s = append(s, fmt.Sprintf("%.0f", mib(x.RSS)))
		}
		p("RSS samples (MiB) of %d contacts (%s)%s: %s\n\n", r.Contacts, map[bool]string{false: "CSV", true: "JSON"}[r.JSON],
			map[bool]string{true: " dry run"}[r.DryRun], strings.Join(s, " "))
	}
	return b.String()
}
