package dynamo

// The table's key layout, by partition key prefix (PK, or GSI1PK for the
// index):
//
//	HOLDER#<holder key>       a holder and their code (SK HOLDER), their
//	                          audit trail (SK AUDIT#...)
//	CODE#<code>               a code number and whose it is
//	REQ#<request id>          a queued command and its outcome
//	VER#<id>                  a real-name verification and its SMS step
//	RATE#<bound key>#<slot>   a limiter counter; the bound's key names its
//	                          family (ip:, person:, rrnfail:, otpfail:,
//	                          phonefail:, phonefailip:, smsphone:,
//	                          commands, clearance#key#, clearance#code#)
//	IDEM#<scope>#<key>        an Idempotency-Key record (scope apikey:<id>)
//	NOTICE#<id>               a holder notice's send state
//	SMSRATE#<name>            the SMS provider's token bucket
//	STAT#<day>#<shard>        the day's statistics counters
//	APIKEY#<id>               a broker's or the authority's API key
//	CHECK#<id>                a clearance check
//	CHECKMISS#<code>#<day>    a code's mismatches on a day
//	CHECKFLAG#<code>#<day>    a code flagged for the authority
//	DECL#<id>                 a declaration
//	PREFS#<holder key>        a holder's confirmation setting
//	MISUSE#<id>               a denied declaration, for the authority
//
// and in GSI1: EXPIRY#<day> (holders due), CHECKS#<holder key> (the checks
// made against a holder's codes), DECLS#<holder key> (their declarations),
// MISMATCHES#<day>, MISUSE#<day>, CHECKMISS#<day>#<shard> and the API key
// list.

// Access is one kind of DynamoDB request a store method makes: the IAM
// action it needs (a transaction's items need the actions of what they
// do: PutItem, UpdateItem, DeleteItem), the index it reads ("" for the
// table) and the prefix of the partition key of the items it touches,
// which IAM's dynamodb:LeadingKeys condition matches. In Prefix, "{key}"
// stands for the caller's key (a limiter bound's, an idempotency scope):
// whoever wires the store decides that part.
type Access struct {
	Action string
	Index  string
	Prefix string
}

// CallerKey is the place in an Access's Prefix of the key the caller
// gives.
const CallerKey = "{key}"

func get(p string) Access    { return Access{Action: "GetItem", Prefix: p} }
func put(p string) Access    { return Access{Action: "PutItem", Prefix: p} }
func update(p string) Access { return Access{Action: "UpdateItem", Prefix: p} }
func del(p string) Access    { return Access{Action: "DeleteItem", Prefix: p} }
func query(p string) Access  { return Access{Action: "Query", Index: IndexGSI1, Prefix: p} }

// queryTable is a Query of the table itself (one partition).
func queryTable(p string) Access { return Access{Action: "Query", Prefix: p} }

// Accesses lists, for every method of this package's stores that calls
// DynamoDB ("Type.Method"), the requests it makes. The statistics a
// transaction counts are Stats.Items, listed once there: a method that
// calls it needs its access too. infra/leastpriv reads this table, finds
// which methods each function's code can reach, and holds template.yaml's
// grants equal to what they need; it fails on a method that calls
// DynamoDB and is missing here. Change this table with the method.
var Accesses = map[string][]Access{
	"APIKeyStore.Create": {put("APIKEY#")},
	"APIKeyStore.Key":    {get("APIKEY#")},
	"APIKeyStore.Revoke": {update("APIKEY#")},
	"APIKeyStore.List":   {query(apiKeysIndexPK)},

	"CheckStore.Record":        {put("CHECK#")},
	"CheckStore.CountMismatch": {update("CHECKMISS#"), put("CHECKMISS#")},
	"CheckStore.ChecksOf":      {query("CHECKS#")},
	"CheckStore.Flag":          {update("CHECKFLAG#"), put("CHECKFLAG#")},
	"CheckStore.MarkNotified":  {update("CHECKFLAG#")},
	"CheckStore.Flagged":       {query("MISMATCHES#")},

	// A change puts the holder (and their audit line), puts a new code,
	// retires the old one and records the request's outcome.
	"CodeStore.Apply": {put("HOLDER#"), put("CODE#"), update("CODE#"), update("REQ#")},
	// With a campaign's item record and counter (CampaignStore.ChangeItems).
	"CodeStore.ApplyWith": {put("HOLDER#"), put("CODE#"), update("CODE#"), update("REQ#"), put("CAMP#"), update("CAMP#")},
	"CodeStore.Holder":    {get("HOLDER#")},
	"CodeStore.CodeOwner": {get("CODE#")},
	"CodeStore.DueOn":     {query("EXPIRY#")},

	"DeclarationStore.File":                 {put("DECL#")},
	"DeclarationStore.Declaration":          {get("DECL#")},
	"DeclarationStore.Decide":               {update("DECL#"), put("MISUSE#")},
	"DeclarationStore.Of":                   {query("DECLS#")},
	"DeclarationStore.MisuseOn":             {query("MISUSE#")},
	"DeclarationStore.ConfirmationRequired": {get("PREFS#")},
	"DeclarationStore.SetConfirmation":      {update("PREFS#")},

	"IdempotencyStore.Claim":    {put("IDEM#" + CallerKey + "#"), get("IDEM#" + CallerKey + "#")},
	"IdempotencyStore.Complete": {update("IDEM#" + CallerKey + "#")},
	"IdempotencyStore.Release":  {del("IDEM#" + CallerKey + "#")},

	"Limiter.Hit":    {update("RATE#" + CallerKey + "#"), get("RATE#" + CallerKey + "#")},
	"Limiter.Take":   {update("RATE#" + CallerKey + "#"), get("RATE#" + CallerKey + "#")},
	"Limiter.Give":   {update("RATE#" + CallerKey + "#")},
	"Limiter.Peek":   {get("RATE#" + CallerKey + "#")},
	"Limiter.Lease":  {update("RATE#" + CallerKey + "#")},
	"Limiter.Leased": {get("RATE#" + CallerKey + "#")},
	// Allow is Hit; prevAsync and read are Hit's, Take's and Peek's.
	"Limiter.Allow":     {update("RATE#" + CallerKey + "#"), get("RATE#" + CallerKey + "#")},
	"Limiter.prevAsync": {get("RATE#" + CallerKey + "#")},
	"Limiter.read":      {get("RATE#" + CallerKey + "#")},

	"NoticeStore.Claim":   {update("NOTICE#")},
	"NoticeStore.Sent":    {update("NOTICE#")},
	"NoticeStore.Release": {update("NOTICE#")},
	"NoticeStore.set":     {update("NOTICE#")},

	"RequestStore.Queue":  {put("REQ#")},
	"RequestStore.Claim":  {put("REQ#"), get("REQ#")},
	"RequestStore.Refuse": {update("REQ#")},
	"RequestStore.Unsent": {update("REQ#")},
	"RequestStore.Get":    {get("REQ#")},
	"RequestStore.Fail":   {update("REQ#")},

	"CampaignStore.Create":     {put("CAMP#")},
	"CampaignStore.Get":        {get("CAMP#")},
	"CampaignStore.Transition": {update("CAMP#")},
	"CampaignStore.SaveCursor": {update("CAMP#")},
	"CampaignStore.Work":       {queryTable("CAMP#")},
	"CampaignStore.Items":      {queryTable("CAMP#")},
	"CampaignStore.Outcome":    {get("CAMP#")},
	"CampaignStore.Record":     {put("CAMP#"), update("CAMP#"), update("STAT#")},
	"CampaignStore.itemItems":  {put("CAMP#"), update("CAMP#")},

	"SMSBucket.Take":                 {get("SMSRATE#"), update("SMSRATE#")},
	"HolderLanguages.SealedLanguage": {get("HOLDER#")},

	// Items are updates for the caller's transaction; UpdateInputs the
	// same as single UpdateItem calls the caller makes.
	"Stats.Items":        {update("STAT#")},
	"Stats.UpdateInputs": {update("STAT#")},
	"Stats.update":       {update("STAT#")},
	"Stats.Read":         {{Action: "BatchGetItem", Prefix: "STAT#"}},
	// Counts on their own (sms.Counts): UpdateInputs, sent.
	"StatsCounter.Add": {update("STAT#")},

	// Put also counts the verification (Stats.Items); Unmatched counts
	// alone (Stats.UpdateInputs).
	"VerificationStore.Put":                {put("VER#")},
	"VerificationStore.Unmatched":          {},
	"VerificationStore.Get":                {get("VER#")},
	"VerificationStore.SaveChallenge":      {update("VER#")},
	"VerificationStore.TakePhoneTry":       {update("VER#")},
	"VerificationStore.GivePhoneTry":       {update("VER#")},
	"VerificationStore.MarkDeliveryFailed": {update("VER#")},
	"VerificationStore.MarkDeliveryLate":   {update("VER#")},
}
