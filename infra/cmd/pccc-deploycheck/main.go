// Command pccc-deploycheck checks a deploy's parameters before make deploy
// builds anything (infra/deploycheck): every parameter of template.yaml
// without a default must be given by samconfig.toml's config env or by
// -params. On success it prints the merged overrides for sam deploy; on a
// problem it names every missing or refused parameter and exits 1.
//
//	pccc-deploycheck -config-env prod -params "BureauUrl=https://... CarrierUrl=..."
package main

import (
	"flag"
	"fmt"
	"os"

	"github.com/pccc/pccc/infra/deploycheck"
	"github.com/pccc/pccc/infra/samtemplate"
)

func main() {
	env := flag.String("config-env", "default", "samconfig.toml config env (default, prod)")
	params := flag.String("params", "", `more parameter overrides, "Name=value Name2=value2"; they win over samconfig.toml's`)
	tplPath := flag.String("template", "template.yaml", "the SAM template")
	cfgPath := flag.String("samconfig", "samconfig.toml", "the SAM config file")
	flag.Parse()
	if err := run(*env, *params, *tplPath, *cfgPath); err != nil {
		fmt.Fprintf(os.Stderr, "pccc-deploycheck: %v\n", err)
		os.Exit(1)
	}
}

func run(env, params, tplPath, cfgPath string) error {
	tpl, err := samtemplate.Load(tplPath)
	if err != nil {
		return err
	}
	f, err := os.Open(cfgPath)
	if err != nil {
		return err
	}
	defer f.Close()
	o, err := deploycheck.SamconfigOverrides(f, env)
	if err != nil {
		return err
	}
	if err := deploycheck.ParseOverrides(params, &o); err != nil {
		return fmt.Errorf("-params: %w", err)
	}
	if err := deploycheck.Check(tpl, o); err != nil {
		return fmt.Errorf("config env %s: %w (give them in PARAMS: make deploy CONFIG_ENV=%s PARAMS=\"Name=value ...\")", env, err, env)
	}
	fmt.Println(o.String())
	return nil
}
