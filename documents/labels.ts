/**
 * The words of an invoice document in the languages Tally writes documents in; any other
 * locale gets English words (its amounts and dates are still written the locale's way).
 */
export interface Labels {
  invoice: string;
  creditNote: string;
  number: string;
  issued: string;
  due: string;
  terms: string;
  period: string;
  purchaseOrder: string;
  billTo: string;
  from: string;
  taxId: string;
  description: string;
  quantity: string;
  unitPrice: string;
  amount: string;
  subtotal: string;
  discount: string;
  credit: string;
  tax: string;
  total: string;
  credited: string;
  amountDue: string;
  page: (n: number, of: number) => string;
  tier: (n: number) => string;
  flatFee: string;
  included: (units: string) => string;
  packages: (count: string, size: string) => string;
  capped: string;
  creditFor: string;
  reason: string;
  settlement: string;
  status: Record<'draft' | 'open' | 'paid' | 'void' | 'uncollectible', string>;
  payOnline: string;
  downloadPdf: string;
  /** The payment terms: charged to the card on file, due on receipt, or net days. */
  paymentTerms: (method: 'charge_automatically' | 'send_invoice', days: number) => string;
}

const en: Labels = {
  invoice: 'Invoice',
  creditNote: 'Credit note',
  number: 'Number',
  issued: 'Issued',
  due: 'Due',
  terms: 'Terms',
  period: 'Period',
  purchaseOrder: 'Purchase order',
  billTo: 'Bill to',
  from: 'From',
  taxId: 'Tax ID',
  description: 'Description',
  quantity: 'Qty',
  unitPrice: 'Unit price',
  amount: 'Amount',
  subtotal: 'Subtotal',
  discount: 'Discount',
  credit: 'Credit',
  tax: 'Tax',
  total: 'Total',
  credited: 'Credited',
  amountDue: 'Amount due',
  page: (n, of) => `Page ${n} of ${of}`,
  tier: (n) => `Tier ${n}`,
  flatFee: 'flat fee',
  included: (units) => `${units} included`,
  packages: (count, size) => `${count} × ${size}`,
  capped: 'capped at the maximum',
  creditFor: 'Credit for invoice',
  reason: 'Reason',
  settlement: 'Settled as',
  status: { draft: 'Draft', open: 'Open', paid: 'Paid', void: 'Void', uncollectible: 'Uncollectible' },
  payOnline: 'Pay online',
  downloadPdf: 'Download PDF',
  paymentTerms: (method, days) => (method === 'charge_automatically' ? 'Charged automatically' : days === 0 ? 'Due on receipt' : `Net ${days}`),
};

const de: Labels = {
  ...en,
  invoice: 'Rechnung',
  creditNote: 'Gutschrift',
  number: 'Nummer',
  issued: 'Rechnungsdatum',
  due: 'Fällig',
  terms: 'Zahlungsbedingungen',
  period: 'Leistungszeitraum',
  purchaseOrder: 'Bestellnummer',
  billTo: 'Rechnungsempfänger',
  from: 'Von',
  taxId: 'USt-IdNr.',
  description: 'Beschreibung',
  quantity: 'Menge',
  unitPrice: 'Einzelpreis',
  amount: 'Betrag',
  subtotal: 'Zwischensumme',
  discount: 'Rabatt',
  credit: 'Guthaben',
  tax: 'Steuer',
  total: 'Gesamt',
  credited: 'Gutgeschrieben',
  amountDue: 'Fälliger Betrag',
  page: (n, of) => `Seite ${n} von ${of}`,
  tier: (n) => `Stufe ${n}`,
  flatFee: 'Pauschale',
  included: (units) => `${units} inklusive`,
  capped: 'auf das Maximum begrenzt',
  creditFor: 'Gutschrift zur Rechnung',
  reason: 'Grund',
  settlement: 'Ausgleich',
  status: { draft: 'Entwurf', open: 'Offen', paid: 'Bezahlt', void: 'Storniert', uncollectible: 'Uneinbringlich' },
  payOnline: 'Online bezahlen',
  downloadPdf: 'PDF herunterladen',
  paymentTerms: (method, days) => (method === 'charge_automatically' ? 'Automatische Abbuchung' : days === 0 ? 'Sofort fällig' : `Zahlbar innerhalb von ${days} Tagen`),
};

const pt: Labels = {
  ...en,
  invoice: 'Fatura',
  creditNote: 'Nota de crédito',
  number: 'Número',
  issued: 'Emissão',
  due: 'Vencimento',
  terms: 'Condições',
  period: 'Período',
  purchaseOrder: 'Pedido de compra',
  billTo: 'Cobrar de',
  from: 'De',
  taxId: 'CNPJ/CPF',
  description: 'Descrição',
  quantity: 'Qtd.',
  unitPrice: 'Preço unitário',
  amount: 'Valor',
  subtotal: 'Subtotal',
  discount: 'Desconto',
  credit: 'Crédito',
  tax: 'Imposto',
  total: 'Total',
  credited: 'Creditado',
  amountDue: 'Valor devido',
  page: (n, of) => `Página ${n} de ${of}`,
  tier: (n) => `Faixa ${n}`,
  flatFee: 'taxa fixa',
  included: (units) => `${units} incluídos`,
  capped: 'limitado ao máximo',
  creditFor: 'Crédito da fatura',
  reason: 'Motivo',
  settlement: 'Liquidação',
  status: { draft: 'Rascunho', open: 'Em aberto', paid: 'Paga', void: 'Anulada', uncollectible: 'Incobrável' },
  payOnline: 'Pagar online',
  downloadPdf: 'Baixar PDF',
  paymentTerms: (method, days) => (method === 'charge_automatically' ? 'Cobrança automática' : days === 0 ? 'Pagamento na apresentação' : `${days} dias`),
};

const fr: Labels = {
  ...en,
  invoice: 'Facture',
  creditNote: 'Avoir',
  number: 'Numéro',
  issued: 'Date d’émission',
  due: 'Échéance',
  terms: 'Conditions',
  period: 'Période',
  purchaseOrder: 'Bon de commande',
  billTo: 'Facturer à',
  from: 'De',
  taxId: 'N° TVA',
  description: 'Description',
  quantity: 'Qté',
  unitPrice: 'Prix unitaire',
  amount: 'Montant',
  subtotal: 'Sous-total',
  discount: 'Remise',
  credit: 'Crédit',
  tax: 'Taxe',
  total: 'Total',
  credited: 'Crédité',
  amountDue: 'Montant dû',
  page: (n, of) => `Page ${n} sur ${of}`,
  tier: (n) => `Palier ${n}`,
  flatFee: 'forfait',
  included: (units) => `${units} inclus`,
  capped: 'plafonné au maximum',
  creditFor: 'Avoir sur la facture',
  reason: 'Motif',
  settlement: 'Règlement',
  status: { draft: 'Brouillon', open: 'Ouverte', paid: 'Payée', void: 'Annulée', uncollectible: 'Irrécouvrable' },
  payOnline: 'Payer en ligne',
  downloadPdf: 'Télécharger le PDF',
  paymentTerms: (method, days) => (method === 'charge_automatically' ? 'Prélèvement automatique' : days === 0 ? 'Payable à réception' : `Paiement à ${days} jours`),
};

const es: Labels = {
  ...en,
  invoice: 'Factura',
  creditNote: 'Nota de crédito',
  number: 'Número',
  issued: 'Emitida',
  due: 'Vencimiento',
  terms: 'Condiciones',
  period: 'Periodo',
  purchaseOrder: 'Orden de compra',
  billTo: 'Facturar a',
  from: 'De',
  taxId: 'NIF',
  description: 'Descripción',
  quantity: 'Cant.',
  unitPrice: 'Precio unitario',
  amount: 'Importe',
  subtotal: 'Subtotal',
  discount: 'Descuento',
  credit: 'Crédito',
  tax: 'Impuesto',
  total: 'Total',
  credited: 'Abonado',
  amountDue: 'Importe adeudado',
  page: (n, of) => `Página ${n} de ${of}`,
  tier: (n) => `Tramo ${n}`,
  flatFee: 'cuota fija',
  included: (units) => `${units} incluidos`,
  capped: 'limitado al máximo',
  creditFor: 'Abono de la factura',
  reason: 'Motivo',
  settlement: 'Liquidación',
  status: { draft: 'Borrador', open: 'Abierta', paid: 'Pagada', void: 'Anulada', uncollectible: 'Incobrable' },
  payOnline: 'Pagar en línea',
  downloadPdf: 'Descargar PDF',
  paymentTerms: (method, days) => (method === 'charge_automatically' ? 'Cargo automático' : days === 0 ? 'Pago al recibir' : `Pago a ${days} días`),
};

const ja: Labels = {
  ...en,
  invoice: '請求書',
  creditNote: 'クレジットノート',
  number: '請求書番号',
  issued: '発行日',
  due: '支払期日',
  terms: '支払条件',
  period: '対象期間',
  purchaseOrder: '注文番号',
  billTo: '請求先',
  from: '請求元',
  taxId: '登録番号',
  description: '内容',
  quantity: '数量',
  unitPrice: '単価',
  amount: '金額',
  subtotal: '小計',
  discount: '割引',
  credit: 'クレジット',
  tax: '税',
  total: '合計',
  credited: '返金済',
  amountDue: 'ご請求額',
  page: (n, of) => `${n} / ${of} ページ`,
  tier: (n) => `段階 ${n}`,
  flatFee: '固定料金',
  included: (units) => `${units} 含む`,
  capped: '上限適用',
  creditFor: '対象請求書',
  reason: '理由',
  settlement: '精算方法',
  status: { draft: '下書き', open: '未払い', paid: '支払済', void: '無効', uncollectible: '回収不能' },
  payOnline: 'オンラインで支払う',
  downloadPdf: 'PDF をダウンロード',
  paymentTerms: (method, days) => (method === 'charge_automatically' ? '自動引き落とし' : days === 0 ? '受領時払い' : `${days}日以内にお支払い`),
};

const BY_LANGUAGE: Record<string, Labels> = { en, de, pt, fr, es, ja };

/** The labels for a locale's language (`de-AT` → German), English when Tally has none. */
export function labelsFor(locale: string): Labels {
  return BY_LANGUAGE[new Intl.Locale(locale).language] ?? en;
}
