// Writes src/address/countries.rs: every country or territory an address can name, by its
// ISO 3166-1 code, with its name in English and in French. The names are the Unicode
// CLDR's (Unicode License v3), as this Node's ICU holds them; run it again with a newer
// Node to take CLDR's updates: `node scripts/countries.mjs`.
import { writeFileSync } from 'node:fs';

// Codes CLDR names that no address uses: withdrawn codes kept as aliases (AN, BU, CS,
// DD, DY, FX, HV, NH, RH, SU, TP, UK, VD, YD, YU, ZR), groupings (EU, EZ, QO, UN),
// places ISO does not list on their own (CP, CQ, DG, EA, IC), pseudo-locales (XA,
// XB) and "unknown" (ZZ). AC, TA and XK stay: Stripe's addresses take them.
const notCountries = new Set('AN BU CP CQ CS DD DG DY EA EU EZ FX HV IC NH QO RH SU TP UK UN VD XA XB YD YU ZR ZZ'.split(' '));

const english = new Intl.DisplayNames(['en'], { type: 'region', fallback: 'none' });
const french = new Intl.DisplayNames(['fr'], { type: 'region', fallback: 'none' });
const rows = [];
for (let first = 65; first <= 90; first++) {
  for (let second = 65; second <= 90; second++) {
    const code = String.fromCharCode(first, second);
    const [en, fr] = [english.of(code), french.of(code)];
    if (!en || !fr || notCountries.has(code)) continue;
    rows.push(`    (${JSON.stringify(code)}, ${JSON.stringify(en)}, ${JSON.stringify(fr)}),`);
  }
}

const file = new URL('../src/address/countries.rs', import.meta.url);
writeFileSync(
  file,
  `// Written by scripts/countries.mjs from CLDR ${process.versions.cldr} (Unicode License v3): edit that, not this.

/// Each country's ISO 3166-1 code, its English name and its French name, by code.
pub const COUNTRIES: [(&str, &str, &str); ${rows.length}] = [
${rows.join('\n')}
];
`,
);
console.log(`${rows.length} countries written to ${file.pathname}`);
