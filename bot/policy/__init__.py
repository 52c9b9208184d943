"""Policy answers: residents' questions answered from the local regulations, quoted and cited.

    from bot.policy import answer_question
    answer_question("通化的网格长由谁担任？", "zh-Hans", default_city="通化")

Modules: clean/structure/metadata/ingest (raw text → cleaned copies → corpus.json), script
(Simplified/Traditional, 通化 term fixes), tokens/query/retrieve (BM25 search, city scope, abstention),
render/answer (the reply), practical (office hours etc. from config/practical_info.yml).
No Rasa imports: actions/ call answer_question().
"""
from .answer import PolicyAnswer, answer_question

__all__ = ["PolicyAnswer", "answer_question"]
