// Message templates for the console: an event's CAP fields and its texts per language.
// Officers edit the filled texts before issuing. Only ja and en have been reviewed; the other
// languages are starting points that a native speaker must check before real use (docs/web.md).
"use strict";

const KizunaTemplates = (() => {
  // The languages the console offers text blocks for, Japanese first.
  const LANGUAGES = [
    { tag: "ja", name: "日本語" },
    { tag: "en", name: "English" },
    { tag: "zh-Hans", name: "简体中文" },
    { tag: "ko", name: "한국어" },
    { tag: "pt", name: "Português" },
    { tag: "es", name: "Español" },
  ];

  const LEVEL_TEXT = {
    3: { ja: "高齢者等避難", en: "Elderly and others evacuate", "zh-Hans": "老年人等避难", ko: "고령자 등 대피", pt: "Evacuação de idosos e outros", es: "Evacuación de personas mayores y otras" },
    4: { ja: "避難指示", en: "Evacuation order", "zh-Hans": "避难指示", ko: "대피 지시", pt: "Ordem de evacuação", es: "Orden de evacuación" },
    5: { ja: "緊急安全確保", en: "Emergency safety measures", "zh-Hans": "紧急确保安全", ko: "긴급 안전 확보", pt: "Medidas de segurança de emergência", es: "Medidas de seguridad de emergencia" },
  };

  const EVENTS = {
    flood: {
      name: { ja: "洪水", en: "Flood", "zh-Hans": "洪水", ko: "홍수", pt: "Inundação", es: "Inundación" },
      category: "Met", hazard: "flood",
      description: { ja: "川が氾濫するおそれがあります。", en: "The river may overflow.", "zh-Hans": "河流可能泛滥。", ko: "강이 범람할 우려가 있습니다.", pt: "O rio pode transbordar.", es: "El río puede desbordarse." },
    },
    landslide: {
      name: { ja: "土砂災害", en: "Landslide", "zh-Hans": "泥石流", ko: "토사 재해", pt: "Deslizamento de terra", es: "Deslizamiento de tierra" },
      category: "Geo", hazard: "landslide",
      description: { ja: "土砂災害の危険が高まっています。", en: "The risk of landslides is high.", "zh-Hans": "发生泥石流的危险很高。", ko: "토사 재해의 위험이 높아지고 있습니다.", pt: "O risco de deslizamentos é alto.", es: "El riesgo de deslizamientos es alto." },
    },
    storm_surge: {
      name: { ja: "高潮", en: "Storm surge", "zh-Hans": "风暴潮", ko: "해일", pt: "Maré de tempestade", es: "Marejada ciclónica" },
      category: "Met", hazard: "storm_surge",
      description: { ja: "高潮のおそれがあります。", en: "A storm surge is expected.", "zh-Hans": "可能发生风暴潮。", ko: "해일이 발생할 우려가 있습니다.", pt: "Espera-se uma maré de tempestade.", es: "Se espera una marejada ciclónica." },
    },
    tsunami: {
      name: { ja: "津波", en: "Tsunami", "zh-Hans": "海啸", ko: "쓰나미", pt: "Tsunami", es: "Tsunami" },
      category: "Geo", hazard: "tsunami",
      description: { ja: "津波が来るおそれがあります。", en: "A tsunami may arrive.", "zh-Hans": "海啸可能来袭。", ko: "쓰나미가 올 우려가 있습니다.", pt: "Um tsunami pode chegar.", es: "Puede llegar un tsunami." },
    },
    fire: {
      name: { ja: "大規模火災", en: "Large fire", "zh-Hans": "大规模火灾", ko: "대규모 화재", pt: "Grande incêndio", es: "Gran incendio" },
      category: "Fire", hazard: "fire",
      description: { ja: "大規模な火災が広がっています。", en: "A large fire is spreading.", "zh-Hans": "大规模火灾正在蔓延。", ko: "대규모 화재가 번지고 있습니다.", pt: "Um grande incêndio está se espalhando.", es: "Un gran incendio se está propagando." },
    },
  };

  const INSTRUCTION = {
    3: { ja: "高齢の方や支援が必要な方は避難を始めてください。", en: "Older people and those who need help should start evacuating.", "zh-Hans": "老年人和需要帮助的人请开始避难。", ko: "고령자와 도움이 필요한 분은 대피를 시작하십시오.", pt: "Idosos e pessoas que precisam de ajuda devem começar a evacuar.", es: "Las personas mayores y quienes necesiten ayuda deben empezar a evacuar." },
    4: { ja: "危険な場所から全員避難してください。", en: "Everyone in a dangerous place must evacuate now.", "zh-Hans": "处于危险地点的所有人请立即避难。", ko: "위험한 장소에 있는 모든 분은 대피하십시오.", pt: "Todos em locais perigosos devem evacuar agora.", es: "Todas las personas en lugares peligrosos deben evacuar ahora." },
    5: { ja: "命の危険があります。直ちに安全を確保してください。", en: "Your life is in danger. Secure your safety immediately.", "zh-Hans": "您有生命危险。请立即确保安全。", ko: "생명이 위험합니다. 즉시 안전을 확보하십시오.", pt: "Sua vida está em perigo. Proteja-se imediatamente.", es: "Su vida está en peligro. Póngase a salvo de inmediato." },
  };

  // CAP urgency, severity and certainty follow from the evacuation level.
  const CAP = {
    3: { severity: "Moderate", urgency: "Expected", certainty: "Likely" },
    4: { severity: "Severe", urgency: "Immediate", certainty: "Likely" },
    5: { severity: "Extreme", urgency: "Immediate", certainty: "Observed" },
  };

  // Full-width brackets where the script wants them, ASCII ones elsewhere.
  const WIDE = new Set(["ja", "zh-Hans"]);

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
