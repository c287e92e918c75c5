package campaignapi

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"time"

	"github.com/aws/aws-lambda-go/events"

	"github.com/pccc/pccc/shared/campaign"
	"github.com/pccc/pccc/shared/dynamo"
	"github.com/pccc/pccc/shared/notify"
	"github.com/pccc/pccc/shared/sms"
	"github.com/pccc/pccc/shared/sqsbatch"
)

// Lists reads and writes the campaign bucket's objects.
type Lists interface {
	// Open reads an object; its size is told so a list too large is
	// refused before it is read.
	Open(ctx context.Context, key string) (io.ReadCloser, int64, error)
	Put(ctx context.Context, key string, body []byte, contentType string) error
}

// ErrNoList is a list object that is not there (an upload not made).
var ErrNoList = errors.New("the campaign's list is not in the bucket")

// Cursors saves the reader's place (dynamo.CampaignStore).
type Cursors interface {
	SaveCursor(ctx context.Context, id string, old, next, queued int64) error
	Items(ctx context.Context, id string, each func(code, outcome, reason string)) error
}

// ChunkLines is how many lines the reader reads between two saves of its
// place.
const ChunkLines = 1000

// MaxListBytes bounds a list object: a million lines of a code and a few
// spaces.
const MaxListBytes = campaign.MaxLines * 80

// Reader reads campaign lists, behind the control queue: it prepares a
// list (reads, counts and checks it; nothing is queued), fans a confirmed
// one out onto the campaign queue chunk by chunk, saving its place after
// each, and writes the reports of a campaign that ended.
type Reader struct {
	Campaigns Campaigns
	Cursors   Cursors
	Lists     Lists
	Items     Sender
	Control   Sender
	// Site is the page's address the notices name (their size: the SMS
	// estimate); PartPrice the price of one SMS part.
	Site         string
	PartPrice    float64
	FailureShare float64
	// Stop reports whether to stop fanning out now (the invocation's time
	// is nearly up): the reader queues its own continuation. Default: 30
	// seconds before ctx's deadline.
	Stop func(ctx context.Context) bool
	// Chunk is how many lines go between two saves of the place (0:
	// ChunkLines).
	Chunk int64
	Now   func() time.Time
	Log   *slog.Logger
}

// Handle processes control messages.
func (r *Reader) Handle(ctx context.Context, ev events.SQSEvent) (events.SQSEventResponse, error) {
	p := &sqsbatch.Processor{Name: "campaign control", MaxReceives: 5, Log: r.Log}
	return p.Process(ctx, ev, func(ctx context.Context, m events.SQSMessage) error {
		c, err := campaign.ParseControl(m.Body)
		if err != nil {
			r.Log.ErrorContext(ctx, "campaign control unreadable", "messageId", m.MessageId)
			return nil
		}
		switch c.Op {
		case campaign.OpPrepare:
			return r.Prepare(ctx, c.Campaign)
		case campaign.OpFanOut:
			return r.FanOut(ctx, c.Campaign)
		default:
			return r.Report(ctx, c.Campaign)
		}
	}), nil
}

// lines reads a list line by line, handing each (numbered from 0) to
// each; a line longer than the bound is handed over cut, which the check
// finds invalid. Blank lines are handed over too (the cursor counts them).
func (r *Reader) lines(ctx context.Context, key string, each func(i int64, line string) error) error {
	body, size, err := r.Lists.Open(ctx, key)
	if err != nil {
		return err
	}
	defer body.Close()
	if size > MaxListBytes {
		return errTooLarge
	}
	br := bufio.NewReaderSize(body, 64<<10)
	var i int64
	for {
		line, err := br.ReadSlice('\n')
		if errors.Is(err, bufio.ErrBufferFull) {
			// A line far past any code: hand over its start, skip the rest.
			head := string(line[:campaign.MaxLineBytes+1])
			for errors.Is(err, bufio.ErrBufferFull) {
				_, err = br.ReadSlice('\n')
			}
			line = []byte(head)
		}
		if len(line) > 0 {
			if ferr := each(i, string(bytes.TrimRight(line, "\r\n"))); ferr != nil {
				return ferr
			}
			i++
		}
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return fmt.Errorf("read list: %w", err)
		}
	}
}

var (
	errTooLarge = errors.New("list too large")
	errTooLong  = errors.New("list too long")
)

// noticeParts is how many SMS parts an action's notice is, in the
// dearer of its two languages.
func (r *Reader) noticeParts(a campaign.Action) int {
	var t notify.Text
	if a == campaign.Notify {
		t = notify.CampaignText("0000", r.Site)
	} else {
		t, _ = notify.ChangeText(a.Kind(), r.Site)
	}
	return max(sms.Measure(t.Ko).AWSParts, sms.Measure(t.En).AWSParts)
}

// Prepare reads a created campaign's list: counts its lines, checks each
// code, counts the repeated ones, keeps a preview of the first codes and
// prices the notices; then the campaign awaits confirmation (a dry run is
// complete: nothing runs). A list that is missing, too large or too long
// fails the campaign.
func (r *Reader) Prepare(ctx context.Context, id string) error {
	err := r.Campaigns.Transition(ctx, id, []string{string(campaign.Created), string(campaign.Preparing)}, string(campaign.Preparing), nil)
	if errors.Is(err, dynamo.ErrCampaignState) || errors.Is(err, dynamo.ErrNoCampaign) {
		return nil // prepared before: a repeated message
	}
	if err != nil {
		return err
	}
	c, err := r.Campaigns.Get(ctx, id)
	if err != nil {
		return err
	}
	var p dynamo.Prepared
	seen := map[uint64]struct{}{}
	err = r.lines(ctx, c.ListKey, func(_ int64, line string) error {
		code, kind := campaign.CheckLine(line)
		switch kind {
		case campaign.LineBlank:
			return nil
		case campaign.LineInvalid:
			p.Invalid++
		default:
			k := campaign.Key(code)
			if _, dup := seen[k]; dup {
				p.Duplicate++
			} else {
				seen[k] = struct{}{}
				p.Valid++
				if len(p.Preview) < campaign.PreviewCodes {
					p.Preview = append(p.Preview, code)
				}
			}
		}
		p.Listed++
		if p.Listed > campaign.MaxLines {
			return errTooLong
		}
		return nil
	})
	why := ""
	switch {
	case errors.Is(err, ErrNoList):
		why = "list_missing"
	case errors.Is(err, errTooLarge):
		why = "list_too_large"
	case errors.Is(err, errTooLong):
		why = "list_too_long"
	case err != nil:
		return err
	}
	if why != "" {
		return r.Campaigns.Transition(ctx, id, []string{string(campaign.Preparing)}, string(campaign.Failed),
			map[string]dynamoAttr{"stateReason": dynamo.StringAttr(why), "endedAt": dynamo.TimeAttr(r.Now())})
	}
	est := campaign.EstimateSMS(p.Valid, r.noticeParts(campaign.Action(c.Action)), r.PartPrice)
	p.SMSParts, p.SMSPrice = est.Parts, est.Price
	to, set := campaign.AwaitingConfirmation, p.Attrs()
	if c.DryRun {
		to = campaign.Complete
		set["endedAt"] = dynamo.TimeAttr(r.Now())
	}
	err = r.Campaigns.Transition(ctx, id, []string{string(campaign.Preparing)}, string(to), set)
	if errors.Is(err, dynamo.ErrCampaignState) {
		return nil // cancelled meanwhile
	}
	r.Log.InfoContext(ctx, "campaign prepared", "campaign", id, "listed", p.Listed, "valid", p.Valid, "state", string(to))
	return err
}

// FanOut puts an active campaign's codes on the campaign queue from its
// saved place on: the list is read from its start (the codes before the
// place only fill the set of codes seen, so a repeat is dropped as the
// preparation dropped it), a chunk of ChunkLines lines (Chunk) is sent with
// SendMessageBatch, and the place is saved after each chunk. A reader
// killed mid-chunk is redelivered and sends that chunk again, which the
// workers' item records make harmless. A paused or ended campaign stops
// it; one running out of time queues its own continuation.
func (r *Reader) FanOut(ctx context.Context, id string) error {
	c, err := r.Campaigns.Get(ctx, id)
	if errors.Is(err, dynamo.ErrNoCampaign) {
		return nil
	}
	if err != nil {
		return err
	}
	if campaign.State(c.State) != campaign.Active {
		return nil // paused (resume sends it again) or over
	}
	seen := map[uint64]struct{}{}
	start, queued := c.Cursor, int64(0)
	chunkLines := r.Chunk
	if chunkLines <= 0 {
		chunkLines = ChunkLines
	}
	var chunk []string
	stopped := false
	flush := func(next int64) error {
		if err := r.Items.Send(ctx, chunk, 0); err != nil {
			return err
		}
		q := queued + int64(len(chunk))
		if err := r.Cursors.SaveCursor(ctx, id, start, next, q); err != nil {
			return err
		}
		start, queued, chunk = next, q, chunk[:0]
		cur, err := r.Campaigns.Get(ctx, id)
		if err != nil {
			return err
		}
		if campaign.State(cur.State) != campaign.Active {
			stopped = true
			return errStop
		}
		if r.stop(ctx) {
			stopped = true
			if err := sendControl(ctx, r.Control, campaign.OpFanOut, id, 0); err != nil {
				return err
			}
			return errStop
		}
		return nil
	}
	var last int64
	err = r.lines(ctx, c.ListKey, func(i int64, line string) error {
		last = i + 1
		code, kind := campaign.CheckLine(line)
		if kind == campaign.LineValid {
			k := campaign.Key(code)
			if _, dup := seen[k]; !dup {
				seen[k] = struct{}{}
				if i < c.Cursor {
					queued++
				} else {
					b, _ := json.Marshal(campaign.Item{V: campaign.MessageVersion, Campaign: id, Code: code})
					chunk = append(chunk, string(b))
				}
			}
		}
		if i >= c.Cursor && i+1-start >= chunkLines {
			return flush(i + 1)
		}
		return nil
	})
	if stopped || errors.Is(err, dynamo.ErrCursorMoved) {
		return nil // another reader has it, or it stopped for now
	}
	if err != nil {
		return err
	}
	if last > start || len(chunk) > 0 {
		if err := flush(last); err != nil && !errors.Is(err, errStop) {
			if errors.Is(err, dynamo.ErrCursorMoved) {
				return nil
			}
			return err
		}
	}
	r.Log.InfoContext(ctx, "campaign queued", "campaign", id, "queued", queued, "lines", last)
	return settle(ctx, r.Campaigns, r.Control, r.FailureShare, r.Now, id)
}

var errStop = errors.New("stop")

func (r *Reader) stop(ctx context.Context) bool {
	if r.Stop != nil {
		return r.Stop(ctx)
	}
	d, ok := ctx.Deadline()
	return ok && time.Until(d) < 30*time.Second
}

// Report writes an ended campaign's reports: every line of its list with
// its outcome (code, outcome, reason: the code only when it has a code's
// shape, nothing else of a line), and the failed items' codes alone, one
// a line, a list a new campaign can take.
func (r *Reader) Report(ctx context.Context, id string) error {
	c, err := r.Campaigns.Get(ctx, id)
	if errors.Is(err, dynamo.ErrNoCampaign) {
		return nil
	}
	if err != nil {
		return err
	}
	if !campaign.State(c.State).Final() {
		return nil
	}
	type rec struct{ outcome, reason string }
	done := map[string]rec{}
	if err := r.Cursors.Items(ctx, id, func(code, outcome, reason string) { done[code] = rec{outcome, reason} }); err != nil {
		return err
	}
	var report, failed bytes.Buffer
	report.WriteString("line,code,outcome,reason\r\n")
	seen := map[uint64]struct{}{}
	row := func(i int64, code, outcome, reason string) {
		report.WriteString(strconv.FormatInt(i+1, 10) + "," + code + "," + outcome + "," + reason + "\r\n")
	}
	err = r.lines(ctx, c.ListKey, func(i int64, line string) error {
		code, kind := campaign.CheckLine(line)
		switch kind {
		case campaign.LineBlank:
		case campaign.LineInvalid:
			row(i, code, campaign.OutcomeInvalid, "")
		default:
			k := campaign.Key(code)
			if _, dup := seen[k]; dup {
				row(i, code, campaign.OutcomeDuplicate, "")
				return nil
			}
			seen[k] = struct{}{}
			d, ok := done[code]
			if !ok {
				d = rec{campaign.OutcomeNotRun, ""}
			}
			row(i, code, d.outcome, d.reason)
			if d.outcome == campaign.OutcomeFailed {
				failed.WriteString(code + "\n")
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, ErrNoList) {
		return err
	}
	reportKey, failedKey := "campaigns/"+id+"/report.csv", "campaigns/"+id+"/failed.csv"
	if err := r.Lists.Put(ctx, reportKey, report.Bytes(), "text/csv; charset=utf-8"); err != nil {
		return err
	}
	if err := r.Lists.Put(ctx, failedKey, failed.Bytes(), "text/csv; charset=utf-8"); err != nil {
		return err
	}
	return r.Campaigns.Transition(ctx, id, []string{c.State}, c.State, map[string]dynamoAttr{
		"reportKey": dynamo.StringAttr(reportKey), "failedKey": dynamo.StringAttr(failedKey),
	})
}
