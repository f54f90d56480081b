// Message templates for the console: an event's CAP fields and its texts per language.
// Officers edit the filled texts before issuing. Only ja and en have been reviewed; every other
// language (including やさしい日本語) is machine-drafted, a starting point that a native speaker
// must check before real use (docs/web.md).
"use strict";

const KizunaTemplates = (() => {
  // The languages the console offers text blocks for, Japanese first. やさしい日本語 is tagged
  // `ja-x-easy` (BCP 47 private use, accepted as is by the API): a resident who subscribes to it
  // gets it, and falls back to ja when an alert has no easy-Japanese block. `tl` is stored as its
  // standard form `fil`.
  const LANGUAGES = [
    { tag: "ja", name: "日本語" },
    { tag: "ja-x-easy", name: "やさしい日本語" },
    { tag: "en", name: "English" },
    { tag: "zh-Hans", name: "简体中文" },
    { tag: "zh-Hant", name: "繁體中文" },
    { tag: "ko", name: "한국어" },
    { tag: "vi", name: "Tiếng Việt" },
    { tag: "ne", name: "नेपाली" },
    { tag: "pt", name: "Português" },
    { tag: "es", name: "Español" },
    { tag: "tl", name: "Tagalog" },
    { tag: "th", name: "ไทย" },
    { tag: "id", name: "Bahasa Indonesia" },
  ];

  const LEVEL_TEXT = {
    3: {
      ja: "高齢者等避難", "ja-x-easy": "お年寄りなどは にげて ください", en: "Elderly and others evacuate",
      "zh-Hans": "老年人等避难", "zh-Hant": "高齡者等避難", ko: "고령자 등 대피",
      vi: "Người cao tuổi và những người khác sơ tán", ne: "वृद्धवृद्धा र अन्यहरू सुरक्षित स्थानमा जानुहोस्",
      pt: "Evacuação de idosos e outros", es: "Evacuación de personas mayores y otras",
      tl: "Lumikas ang mga nakatatanda at iba pa", th: "ผู้สูงอายุและผู้อื่นอพยพ",
      id: "Lansia dan lainnya mengungsi",
    },
    4: {
      ja: "避難指示", "ja-x-easy": "みんな にげて ください", en: "Evacuation order",
      "zh-Hans": "避难指示", "zh-Hant": "避難指示", ko: "대피 지시",
      vi: "Lệnh sơ tán", ne: "सुरक्षित स्थानमा जाने आदेश",
      pt: "Ordem de evacuação", es: "Orden de evacuación",
      tl: "Utos na lumikas", th: "คำสั่งอพยพ", id: "Perintah evakuasi",
    },
    5: {
      ja: "緊急安全確保", "ja-x-easy": "いのちが あぶないです", en: "Emergency safety measures",
      "zh-Hans": "紧急确保安全", "zh-Hant": "緊急確保安全", ko: "긴급 안전 확보",
      vi: "Biện pháp an toàn khẩn cấp", ne: "आपतकालीन सुरक्षा उपाय",
      pt: "Medidas de segurança de emergência", es: "Medidas de seguridad de emergencia",
      tl: "Pang-emerhensiyang pag-iingat", th: "มาตรการความปลอดภัยฉุกเฉิน",
      id: "Tindakan keselamatan darurat",
    },
  };

  const EVENTS = {
    flood: {
      name: {
        ja: "洪水", "ja-x-easy": "川の 水が あふれる", en: "Flood", "zh-Hans": "洪水", "zh-Hant": "洪水",
        ko: "홍수", vi: "Lũ lụt", ne: "बाढी", pt: "Inundação", es: "Inundación", tl: "Baha",
        th: "น้ำท่วม", id: "Banjir",
      },
      category: "Met", hazard: "flood",
      description: {
        ja: "川が氾濫するおそれがあります。", "ja-x-easy": "川の 水が あふれるかも しれません。",
        en: "The river may overflow.", "zh-Hans": "河流可能泛滥。", "zh-Hant": "河川可能氾濫。",
        ko: "강이 범람할 우려가 있습니다.", vi: "Sông có thể bị tràn bờ.", ne: "नदी उर्लन सक्छ।",
        pt: "O rio pode transbordar.", es: "El río puede desbordarse.", tl: "Maaaring umapaw ang ilog.",
        th: "แม่น้ำอาจล้นตลิ่ง", id: "Sungai dapat meluap.",
      },
    },
    landslide: {
      name: {
        ja: "土砂災害", "ja-x-easy": "山や がけが くずれる", en: "Landslide", "zh-Hans": "泥石流",
        "zh-Hant": "土石流", ko: "토사 재해", vi: "Sạt lở đất", ne: "पहिरो", pt: "Deslizamento de terra",
        es: "Deslizamiento de tierra", tl: "Pagguho ng lupa", th: "ดินถล่ม", id: "Tanah longsor",
      },
      category: "Geo", hazard: "landslide",
      description: {
        ja: "土砂災害の危険が高まっています。", "ja-x-easy": "山や がけが くずれるかも しれません。",
        en: "The risk of landslides is high.", "zh-Hans": "发生泥石流的危险很高。",
        "zh-Hant": "發生土石流的危險很高。", ko: "토사 재해의 위험이 높아지고 있습니다.",
        vi: "Nguy cơ sạt lở đất đang cao.", ne: "पहिरोको जोखिम उच्च छ।",
        pt: "O risco de deslizamentos é alto.", es: "El riesgo de deslizamientos es alto.",
        tl: "Mataas ang panganib ng pagguho ng lupa.", th: "มีความเสี่ยงสูงที่จะเกิดดินถล่ม",
        id: "Risiko tanah longsor tinggi.",
      },
    },
    storm_surge: {
      name: {
        ja: "高潮", "ja-x-easy": "海の 水が 高く なる", en: "Storm surge", "zh-Hans": "风暴潮",
        "zh-Hant": "暴潮", ko: "해일", vi: "Nước dâng do bão", ne: "आँधीबेहरीले समुद्री सतह बढ्ने",
        pt: "Maré de tempestade", es: "Marejada ciclónica", tl: "Daluyong ng bagyo",
        th: "คลื่นพายุซัดฝั่ง", id: "Gelombang badai",
      },
      category: "Met", hazard: "storm_surge",
      description: {
        ja: "高潮のおそれがあります。", "ja-x-easy": "海の 水が 高く なるかも しれません。",
        en: "A storm surge is expected.", "zh-Hans": "可能发生风暴潮。", "zh-Hant": "可能發生暴潮。",
        ko: "해일이 발생할 우려가 있습니다.", vi: "Dự báo có nước dâng do bão.",
        ne: "आँधीबेहरीले समुद्री सतह बढ्ने सम्भावना छ।", pt: "Espera-se uma maré de tempestade.",
        es: "Se espera una marejada ciclónica.", tl: "Inaasahan ang daluyong ng bagyo.",
        th: "คาดว่าจะเกิดคลื่นพายุซัดฝั่ง", id: "Gelombang badai diperkirakan terjadi.",
      },
    },
    tsunami: {
      name: {
        ja: "津波", "ja-x-easy": "つなみ", en: "Tsunami", "zh-Hans": "海啸", "zh-Hant": "海嘯",
        ko: "쓰나미", vi: "Sóng thần", ne: "सुनामी", pt: "Tsunami", es: "Tsunami", tl: "Tsunami",
        th: "สึนามิ", id: "Tsunami",
      },
      category: "Geo", hazard: "tsunami",
      description: {
        ja: "津波が来るおそれがあります。", "ja-x-easy": "つなみが 来るかも しれません。",
        en: "A tsunami may arrive.", "zh-Hans": "海啸可能来袭。", "zh-Hant": "海嘯可能來襲。",
        ko: "쓰나미가 올 우려가 있습니다.", vi: "Sóng thần có thể ập đến.", ne: "सुनामी आउन सक्छ।",
        pt: "Um tsunami pode chegar.", es: "Puede llegar un tsunami.", tl: "Maaaring dumating ang tsunami.",
        th: "สึนามิอาจมาถึง", id: "Tsunami dapat datang.",
      },
    },
    earthquake: {
      name: {
        ja: "地震", "ja-x-easy": "じしん", en: "Earthquake", "zh-Hans": "地震", "zh-Hant": "地震",
        ko: "지진", vi: "Động đất", ne: "भूकम्प", pt: "Terremoto", es: "Terremoto", tl: "Lindol",
        th: "แผ่นดินไหว", id: "Gempa bumi",
      },
      category: "Geo", hazard: "earthquake",
      description: {
        ja: "強い揺れがありました。建物の倒壊や火災に注意してください。",
        "ja-x-easy": "大きな じしんが ありました。たてものが こわれたり 火事に なったり するかも しれません。",
        en: "There was strong shaking. Watch out for collapsing buildings and fires.",
        "zh-Hans": "发生了强烈摇晃。请注意建筑物倒塌和火灾。",
        "zh-Hant": "發生了強烈搖晃。請注意建築物倒塌和火災。",
        ko: "강한 흔들림이 있었습니다. 건물 붕괴와 화재에 주의하십시오.",
        vi: "Đã có rung lắc mạnh. Hãy cẩn thận với nhà sập và hỏa hoạn.",
        ne: "बलियो कम्पन भयो। भत्किने भवन र आगलागीबाट सावधान रहनुहोस्।",
        pt: "Houve um tremor forte. Cuidado com desabamentos e incêndios.",
        es: "Hubo un temblor fuerte. Tenga cuidado con derrumbes e incendios.",
        tl: "Nagkaroon ng malakas na pagyanig. Mag-ingat sa gumuguhong gusali at sunog.",
        th: "เกิดการสั่นไหวรุนแรง ระวังอาคารถล่มและไฟไหม้",
        id: "Terjadi guncangan kuat. Waspadai bangunan runtuh dan kebakaran.",
      },
    },
    fire: {
      name: {
        ja: "大規模火災", "ja-x-easy": "大きな 火事", en: "Large fire", "zh-Hans": "大规模火灾",
        "zh-Hant": "大規模火災", ko: "대규모 화재", vi: "Hỏa hoạn lớn", ne: "ठूलो आगलागी",
        pt: "Grande incêndio", es: "Gran incendio", tl: "Malaking sunog", th: "ไฟไหม้ครั้งใหญ่",
        id: "Kebakaran besar",
      },
      category: "Fire", hazard: "fire",
      description: {
        ja: "大規模な火災が広がっています。", "ja-x-easy": "大きな 火事が 広がって います。",
        en: "A large fire is spreading.", "zh-Hans": "大规模火灾正在蔓延。", "zh-Hant": "大規模火災正在蔓延。",
        ko: "대규모 화재가 번지고 있습니다.", vi: "Một đám cháy lớn đang lan rộng.",
        ne: "ठूलो आगलागी फैलिरहेको छ।", pt: "Um grande incêndio está se espalhando.",
        es: "Un gran incendio se está propagando.", tl: "Kumakalat ang isang malaking sunog.",
        th: "ไฟไหม้ครั้งใหญ่กำลังลุกลาม", id: "Kebakaran besar sedang meluas.",
      },
    },
  };

  const INSTRUCTION = {
    3: {
      ja: "高齢の方や支援が必要な方は避難を始めてください。",
      "ja-x-easy": "お年寄りや 手伝いが いる人は 今すぐ にげて ください。",
      en: "Older people and those who need help should start evacuating.",
      "zh-Hans": "老年人和需要帮助的人请开始避难。", "zh-Hant": "高齡者和需要協助的人請開始避難。",
      ko: "고령자와 도움이 필요한 분은 대피를 시작하십시오.",
      vi: "Người cao tuổi và người cần hỗ trợ hãy bắt đầu sơ tán.",
      ne: "वृद्धवृद्धा र सहयोग चाहिनेहरूले सुरक्षित स्थानमा जान सुरु गर्नुहोस्।",
      pt: "Idosos e pessoas que precisam de ajuda devem começar a evacuar.",
      es: "Las personas mayores y quienes necesiten ayuda deben empezar a evacuar.",
      tl: "Ang mga nakatatanda at nangangailangan ng tulong ay magsimula nang lumikas.",
      th: "ผู้สูงอายุและผู้ที่ต้องการความช่วยเหลือ โปรดเริ่มอพยพ",
      id: "Lansia dan orang yang membutuhkan bantuan harap mulai mengungsi.",
    },
    4: {
      ja: "危険な場所から全員避難してください。",
      "ja-x-easy": "あぶない ところに いる人は みんな にげて ください。",
      en: "Everyone in a dangerous place must evacuate now.",
      "zh-Hans": "处于危险地点的所有人请立即避难。", "zh-Hant": "身處危險地點的所有人請立即避難。",
      ko: "위험한 장소에 있는 모든 분은 대피하십시오.",
      vi: "Mọi người ở nơi nguy hiểm hãy sơ tán ngay.",
      ne: "खतरनाक ठाउँमा भएका सबैजना अहिले नै सुरक्षित स्थानमा जानुहोस्।",
      pt: "Todos em locais perigosos devem evacuar agora.",
      es: "Todas las personas en lugares peligrosos deben evacuar ahora.",
      tl: "Lahat ng nasa mapanganib na lugar ay lumikas na ngayon.",
      th: "ทุกคนที่อยู่ในพื้นที่อันตราย โปรดอพยพทันที",
      id: "Semua orang di tempat berbahaya harus mengungsi sekarang.",
    },
    5: {
      ja: "命の危険があります。直ちに安全を確保してください。",
      "ja-x-easy": "いのちが あぶないです。すぐに あんぜんな ところへ 行って ください。",
      en: "Your life is in danger. Secure your safety immediately.",
      "zh-Hans": "您有生命危险。请立即确保安全。", "zh-Hant": "您有生命危險。請立即確保安全。",
      ko: "생명이 위험합니다. 즉시 안전을 확보하십시오.",
      vi: "Tính mạng của bạn đang gặp nguy hiểm. Hãy đến nơi an toàn ngay lập tức.",
      ne: "तपाईंको ज्यान खतरामा छ। तुरुन्तै सुरक्षित हुनुहोस्।",
      pt: "Sua vida está em perigo. Proteja-se imediatamente.",
      es: "Su vida está en peligro. Póngase a salvo de inmediato.",
      tl: "Nasa panganib ang iyong buhay. Pumunta agad sa ligtas na lugar.",
      th: "ชีวิตของคุณตกอยู่ในอันตราย โปรดไปยังที่ปลอดภัยทันที",
      id: "Nyawa Anda dalam bahaya. Segera selamatkan diri.",
    },
  };

  // CAP urgency, severity and certainty follow from the evacuation level.
  const CAP = {
    3: { severity: "Moderate", urgency: "Expected", certainty: "Likely" },
    4: { severity: "Severe", urgency: "Immediate", certainty: "Likely" },
    5: { severity: "Extreme", urgency: "Immediate", certainty: "Observed" },
  };

  // Full-width brackets where the script wants them, ASCII ones elsewhere.
  const WIDE = new Set(["ja", "ja-x-easy", "zh-Hans", "zh-Hant"]);

  function texts(eventKey, level, lang) {
    const event = EVENTS[eventKey];
    const pick = (table) => table[lang] || table.en;
    const headline = WIDE.has(lang)
      ? `${pick(LEVEL_TEXT[level])}（${pick(event.name)}）`
      : `${pick(LEVEL_TEXT[level])} (${pick(event.name)})`;
    return { headline, description: pick(event.description), instruction: pick(INSTRUCTION[level]) };
  }

  return { LANGUAGES, EVENTS, CAP, texts };
})();
