package dynamo

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb"
	"github.com/aws/aws-sdk-go-v2/service/dynamodb/types"

	"github.com/pccc/pccc/shared/declaration"
	"github.com/pccc/pccc/shared/stats"
)

// Declarations in the table. No item holds a name, phone or zip: the
// filing's check compares them and forgets them.
//
//   - DECL#<id> / DECL: one declaration: the holder it names, the key that
//     filed it and the key's owner, the check it passed, the code, the
//     goods, the state and its times. GSI1 = DECLS#<holderKey> /
//     <filedAt>#<id>, so a holder's declarations are one query of the
//     index. Every state change is conditional on the state (and the
//     deadline) read, so a declaration is decided once. Kept
//     DeclarationRetention.
//   - MISUSE#<declarationId> / MISUSE: a denied declaration, as suspected
//     misuse for the authority: holder, code, key, time. GSI1 =
//     MISUSE#<day> / <time>#<id> lists a Korean day's. Written in the
//     denial's transaction.
//   - PREFS#<holderKey> / PREFS: the holder's settings that are not part
//     of the code's life (whether declarations wait for their
//     confirmation). Apart from the HOLDER item because every change of a
//     code replaces that item whole (CodeStore.Apply), so a setting there
//     would have to ride along every command; and in a partition of its
//     own so the function that writes it cannot write holders. Not
//     personal data.

// DeclarationRetention is how long a declaration and its misuse record
// are kept.
const DeclarationRetention = 400 * 24 * time.Hour

// ErrNoDeclaration is an unknown declaration id.
var ErrNoDeclaration = errors.New("no such declaration")

// DeclarationAPI is the part of the DynamoDB client the declaration store
// uses.
type DeclarationAPI interface {
	GetItem(context.Context, *dynamodb.GetItemInput, ...func(*dynamodb.Options)) (*dynamodb.GetItemOutput, error)
	PutItem(context.Context, *dynamodb.PutItemInput, ...func(*dynamodb.Options)) (*dynamodb.PutItemOutput, error)
	UpdateItem(context.Context, *dynamodb.UpdateItemInput, ...func(*dynamodb.Options)) (*dynamodb.UpdateItemOutput, error)
	Query(context.Context, *dynamodb.QueryInput, ...func(*dynamodb.Options)) (*dynamodb.QueryOutput, error)
	TransactWriteItems(context.Context, *dynamodb.TransactWriteItemsInput, ...func(*dynamodb.Options)) (*dynamodb.TransactWriteItemsOutput, error)
}

var _ DeclarationAPI = (*dynamodb.Client)(nil)

// DeclarationStore keeps declarations, misuse records and the holders'
// confirmation setting.
type DeclarationStore struct {
	db    DeclarationAPI
	table string
	stats *Stats
}

// NewDeclarationStore returns the declaration store on table.
func NewDeclarationStore(db DeclarationAPI, table string) *DeclarationStore {
	return &DeclarationStore{db: db, table: table, stats: NewStats(nil, table)}
}

func declKey(id string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: s("DECL#" + id), AttrSK: s("DECL")}
}

func prefsKey(hk string) map[string]types.AttributeValue {
	return map[string]types.AttributeValue{AttrPK: s("PREFS#" + hk), AttrSK: s("PREFS")}
}

// DeclarationsIndexPK is the index partition of a holder's declarations.
func DeclarationsIndexPK(hk string) string { return "DECLS#" + hk }

// MisuseIndexPK is the index partition of a Korean day's denials.
func MisuseIndexPK(day string) string { return "MISUSE#" + day }

// File stores a new declaration; the id is 128 random bits and the
// condition only keeps a retried write from overwriting another.
func (st *DeclarationStore) File(ctx context.Context, d declaration.Declaration) error {
	items, err := json.Marshal(d.Goods.Items)
	if err != nil {
		return fmt.Errorf("file declaration: %w", err)
	}
	item := declKey(d.ID)
	item["declarationId"] = s(d.ID)
	item["holderKey"] = s(d.HolderKey)
	item["keyId"] = s(d.KeyID)
	item["filedBy"] = s(d.FiledBy)
	item["checkId"] = s(d.CheckID)
	item["code"] = s(d.Code)
	item["waybill"] = s(d.Goods.Waybill)
	item["items"] = s(string(items))
	item["value"] = s(d.Goods.Value)
	item["currency"] = s(d.Goods.Currency)
	item["status"] = s(string(d.Status))
	item["filedAt"] = ts(d.FiledAt)
	if !d.ConfirmBy.IsZero() {
		// Fixed width, so the decision's condition compares it as a string.
		item["confirmBy"] = s(d.ConfirmBy.UTC().Format(sortTime))
	}
	if !d.DecidedAt.IsZero() {
		item["decidedAt"] = ts(d.DecidedAt)
	}
	item[AttrTTL] = n(d.FiledAt.Add(DeclarationRetention).Unix())
	item[AttrGSI1PK] = s(DeclarationsIndexPK(d.HolderKey))
	item[AttrGSI1SK] = s(d.FiledAt.UTC().Format(sortTime) + "#" + d.ID)
	// Counted filed, and provisionally expired at its deadline: a decision
	// in time takes that back (Decide), so once the deadline has passed the
	// count is what lapsed.
	adds := Plus(d.FiledAt, stats.DeclarationsFiled)
	if d.Status == declaration.Pending {
		adds = append(adds, stats.Add{At: d.ConfirmBy, Kind: stats.DeclarationsExpired, N: 1})
	}
	put := []types.TransactWriteItem{{Put: &types.Put{
		TableName: aws.String(st.table), Item: item, ConditionExpression: aws.String("attribute_not_exists(PK)"),
	}}}
	err = transact(ctx, st.db, put, func() []types.TransactWriteItem { return st.stats.Items(adds...) })
	if conditionFailed(err, 0) {
		return errors.New("file declaration: id taken")
	}
	if err != nil {
		return translate("file declaration", err)
	}
	return nil
}

// Declaration reads a declaration; ErrNoDeclaration when there is none.
func (st *DeclarationStore) Declaration(ctx context.Context, id string) (declaration.Declaration, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(st.table), Key: declKey(id), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return declaration.Declaration{}, translate("get declaration", err)
	}
	if len(out.Item) == 0 {
		return declaration.Declaration{}, ErrNoDeclaration
	}
	return declarationOf(out.Item)
}

func declarationOf(item map[string]types.AttributeValue) (declaration.Declaration, error) {
	var d declaration.Declaration
	d.ID, _ = str(item, "declarationId")
	d.HolderKey, _ = str(item, "holderKey")
	d.KeyID, _ = str(item, "keyId")
	d.FiledBy, _ = str(item, "filedBy")
	d.CheckID, _ = str(item, "checkId")
	d.Code, _ = str(item, "code")
	d.Goods.Waybill, _ = str(item, "waybill")
	d.Goods.Value, _ = str(item, "value")
	d.Goods.Currency, _ = str(item, "currency")
	status, _ := str(item, "status")
	d.Status = declaration.Status(status)
	if v, ok := str(item, "items"); ok {
		if err := json.Unmarshal([]byte(v), &d.Goods.Items); err != nil {
			return d, fmt.Errorf("declaration %s: items: %w", d.ID, err)
		}
	}
	d.FiledAt, d.ConfirmBy, d.DecidedAt = tsOf(item, "filedAt"), tsOf(item, "confirmBy"), tsOf(item, "decidedAt")
	return d, nil
}

// Decide moves a holder's pending declaration to outcome (accepted or
// denied) at now, on the condition that it is still pending, still this
// holder's and its deadline has not passed; declaration.ErrConflict when
// the condition fails (another decision won, or the deadline passed). A
// denial writes its misuse record in the same transaction; the counters
// (confirmed or denied, and the provisional expiry taken back) too.
func (st *DeclarationStore) Decide(ctx context.Context, d declaration.Declaration, outcome declaration.Status, now time.Time) error {
	update := &types.Update{
		TableName: aws.String(st.table), Key: declKey(d.ID),
		UpdateExpression:         aws.String("SET #status = :outcome, decidedAt = :now"),
		ConditionExpression:      aws.String("holderKey = :hk AND #status = :pending AND confirmBy > :nowKey"),
		ExpressionAttributeNames: map[string]string{"#status": "status"},
		ExpressionAttributeValues: map[string]types.AttributeValue{
			":outcome": s(string(outcome)), ":now": ts(now), ":nowKey": s(now.UTC().Format(sortTime)), ":hk": s(d.HolderKey), ":pending": s(string(declaration.Pending)),
		},
	}
	kind := stats.DeclarationsConfirmed
	items := []types.TransactWriteItem{{Update: update}}
	day := stats.Day(now)
	if outcome == declaration.Denied {
		kind = stats.DeclarationsDenied
		misuse := map[string]types.AttributeValue{
			AttrPK: s("MISUSE#" + d.ID), AttrSK: s("MISUSE"),
			"declarationId": s(d.ID), "holderKey": s(d.HolderKey), "code": s(d.Code), "keyId": s(d.KeyID),
			"filedBy": s(d.FiledBy), "at": ts(now), "day": s(day),
			AttrGSI1PK: s(MisuseIndexPK(day)), AttrGSI1SK: s(now.UTC().Format(sortTime) + "#" + d.ID),
			AttrTTL: n(now.Add(DeclarationRetention).Unix()),
		}
		items = append(items, types.TransactWriteItem{Put: &types.Put{TableName: aws.String(st.table), Item: misuse, ConditionExpression: aws.String("attribute_not_exists(PK)")}})
	}
	// Decided in time: it will not lapse, so its provisional count at the
	// deadline is taken back.
	adds := []stats.Add{{At: now, Kind: kind, N: 1}, {At: d.ConfirmBy, Kind: stats.DeclarationsExpired, N: -1}}
	err := transact(ctx, st.db, items, func() []types.TransactWriteItem { return st.stats.Items(adds...) })
	for i := range items {
		if conditionFailed(err, i) {
			return declaration.ErrConflict
		}
	}
	if err != nil {
		return translate("decide declaration", err)
	}
	return nil
}

// Of lists a holder's declarations, newest first, at most limit.
func (st *DeclarationStore) Of(ctx context.Context, hk string, limit int) ([]declaration.Declaration, error) {
	var out []declaration.Declaration
	err := byGSI1(ctx, st.db, st.table, DeclarationsIndexPK(hk), true, limit, "query declarations", func(item map[string]types.AttributeValue) error {
		d, err := declarationOf(item)
		if err == nil {
			out = append(out, d)
		}
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// Misuse is one denied declaration as the authority finds it.
type Misuse struct {
	DeclarationID, HolderKey, Code, KeyID, FiledBy string
	At                                             time.Time
}

// MisuseOn lists the denials of a Korean day (YYYY-MM-DD), oldest first:
// what the authority reviews. It needs Query on GSI1.
func (st *DeclarationStore) MisuseOn(ctx context.Context, day string) ([]Misuse, error) {
	var out []Misuse
	err := byGSI1(ctx, st.db, st.table, MisuseIndexPK(day), false, 0, "query misuse", func(item map[string]types.AttributeValue) error {
		m := Misuse{At: tsOf(item, "at")}
		m.DeclarationID, _ = str(item, "declarationId")
		m.HolderKey, _ = str(item, "holderKey")
		m.Code, _ = str(item, "code")
		m.KeyID, _ = str(item, "keyId")
		m.FiledBy, _ = str(item, "filedBy")
		out = append(out, m)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ConfirmationRequired reads whether a holder turned confirmation on;
// false when they never set it.
func (st *DeclarationStore) ConfirmationRequired(ctx context.Context, hk string) (bool, error) {
	out, err := st.db.GetItem(ctx, &dynamodb.GetItemInput{TableName: aws.String(st.table), Key: prefsKey(hk), ConsistentRead: aws.Bool(true)})
	if err != nil {
		return false, translate("get holder settings", err)
	}
	v, ok := out.Item["confirmDeclarations"].(*types.AttributeValueMemberBOOL)
	return ok && v.Value, nil
}

// SetConfirmation turns a holder's confirmation on or off.
func (st *DeclarationStore) SetConfirmation(ctx context.Context, hk string, required bool, at time.Time) error {
	_, err := st.db.UpdateItem(ctx, &dynamodb.UpdateItemInput{
		TableName: aws.String(st.table), Key: prefsKey(hk),
		UpdateExpression:          aws.String("SET confirmDeclarations = :v, updatedAt = :at"),
		ExpressionAttributeValues: map[string]types.AttributeValue{":v": &types.AttributeValueMemberBOOL{Value: required}, ":at": ts(at)},
	})
	if err != nil {
		return translate("set confirmation", err)
	}
	return nil
}
